"""Redis backends (``pip install 'agentic-nb[redis]'``).

Example::

    >>> from agentic_nb.redis import RedisCheckpointStorage
    >>> RedisCheckpointStorage.KEY_LAYOUT.splitlines()[0]
    '<prefix>:cp:<checkpoint_id>            checkpoint JSON (with checksum)'
"""

from ._storage import RedisCheckpointStorage

__all__ = ["RedisCheckpointStorage"]
