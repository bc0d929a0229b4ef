"""Run untrusted generated code: a fresh directory, no network, bounded everything.

:class:`Sandbox` runs one command (or several, in one :meth:`Sandbox.project`) in a
fresh project directory under a temporary root, with

- **no network** (a new network namespace: not even loopback services are reachable),
- a **read-only system** (bubblewrap binds ``/`` read-only; only the project directory
  and a private ``/tmp`` are writable) and an **unprivileged user** (when the caller
  is root the command runs as a throw-away uid, so root-only files stay unreadable and
  the process-count limit really applies — the kernel ignores ``RLIMIT_NPROC`` for root),
- a **wall-clock timeout** that kills the whole process tree, and a CPU-time limit,
- a **memory limit** (``RLIMIT_DATA``; node also gets ``--max-old-space-size``),
- a **process-count limit** (``RLIMIT_NPROC`` for the sandbox's own uid, or its own user
  namespace when the caller is not root: a fork bomb stops at ``max_processes``),
- **capped output**: at most ``max_output`` bytes of each stream are kept (the head and
  the tail, with a visible ``[... N bytes truncated by the sandbox ...]`` marker between),
  read incrementally so a 100 MB print never sits in memory,
- a **scrubbed environment**: built from scratch (``PATH``, ``LANG``, ``HOME`` = the
  project directory, ``TMPDIR``), so no ``*_API_KEY``, token or cloud credential of the
  caller leaks in; extra variables passed by the caller are filtered the same way.

``isolation="auto"`` uses bubblewrap when it works (probed once per process), else
``unshare -n`` plus rlimits (no read-only system), else raises
:class:`SandboxUnavailableError` naming ``apt-get install bubblewrap``. ``"none"``
runs without isolation after a :func:`warnings.warn` — for machines where nothing else
works, chosen explicitly.

Example::

    >>> import asyncio
    >>> sb = Sandbox(timeout=10)
    >>> res = asyncio.run(sb.run(["cat", "hello.txt"], files={"hello.txt": "hi"}))
    >>> res.returncode, res.stdout, res.timed_out
    (0, 'hi', False)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Sandbox",
    "SandboxProject",
    "SandboxResult",
    "SandboxUnavailableError",
    "is_secret_name",
    "scrub_env",
]

ISOLATIONS = ("auto", "bwrap", "unshare", "none")

_SECRET_PATTERNS = re.compile(
    r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|SESSION_KEY|AUTH)"
    r"|^(AWS_|GOOGLE_|GCP_|GCLOUD_|AZURE_|OPENAI_|ANTHROPIC_|GEMINI_|HF_|HUGGING|NATS_|REDIS_)",
    re.IGNORECASE,
)
_KEPT_FROM_HOST = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
_TRUNCATION_MARKER = "\n[... {n} bytes truncated by the sandbox ...]\n"

# A throw-away uid range for sandboxed commands when the caller is root (no passwd
# entry needed). Each run gets its own uid, so RLIMIT_NPROC counts only that run.
_UID_BASE = 1_500_000_000
_UID_SPAN = 1_000_000
_uid_counter = itertools.count()


class SandboxUnavailableError(RuntimeError):
    """No isolation mechanism works on this machine (and ``isolation="none"`` was not chosen)."""


def is_secret_name(name: str) -> bool:
    """True for environment variable names that look like credentials.

    Example::

        >>> [is_secret_name(n) for n in ("OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_REGION", "PATH")]
        [True, True, True, False]
    """
    return bool(_SECRET_PATTERNS.search(name))


def scrub_env(extra: Mapping[str, str] | None = None, *, home: str = "/tmp") -> dict[str, str]:
    """The environment a sandboxed command sees: a few host variables, never a secret.

    Example::

        >>> env = scrub_env({"FOO": "1", "MY_API_KEY": "sk-..."}, home="/p")
        >>> env["HOME"], env["FOO"], "MY_API_KEY" in env
        ('/p', '1', False)
    """
    env = {k: os.environ[k] for k in _KEPT_FROM_HOST if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env.update(HOME=home, TMPDIR="/tmp", PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1", CI="1")
    for key, value in (extra or {}).items():
        if not is_secret_name(key):
            env[key] = str(value)
    return env


@dataclass
class SandboxResult:
    """What a sandboxed command did.

    ``killed_reason`` is empty when the command ended by itself; otherwise it says
    which limit stopped it (``"timeout after 2.0s (wall clock)"``, ``"CPU time limit"``,
    ``"memory limit"``, ``"killed by signal 9"``). ``files`` holds the files asked for
    with ``collect=`` (read after the command ended, size-capped).
    """

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False
    killed_reason: str = ""
    duration: float = 0.0
    truncated: bool = False
    files: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the command exited 0 and no limit stopped it."""
        return self.returncode == 0 and not self.killed_reason

    @property
    def output(self) -> str:
        """stdout and stderr together (stderr last)."""
        if self.stdout and self.stderr:
            return self.stdout.rstrip("\n") + "\n" + self.stderr
        return self.stdout or self.stderr


class _CappedBuffer:
    """Keeps the first and last ``limit // 2`` bytes of a stream; counts the rest."""

    def __init__(self, limit: int) -> None:
        self.head_limit = limit // 2
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail += chunk
        excess = len(self.tail) - self.tail_limit
        if excess > 0:
            # Trim only when the tail doubled: amortised O(1) per byte.
            if len(self.tail) >= 2 * max(self.tail_limit, 4096) or excess >= len(chunk):
                self.dropped += excess
                del self.tail[:excess]

    def text(self) -> str:
        excess = len(self.tail) - self.tail_limit
        tail = self.tail
        dropped = self.dropped
        if excess > 0:
            dropped += excess
            tail = tail[excess:]
        head = self.head.decode("utf-8", "replace")
        rest = bytes(tail).decode("utf-8", "replace")
        if dropped:
            return head + _TRUNCATION_MARKER.format(n=dropped) + rest
        return head + rest

    @property
    def truncated(self) -> bool:
        return self.dropped > 0 or len(self.tail) > self.tail_limit


async def _drain(stream: asyncio.StreamReader | None, buf: _CappedBuffer) -> None:
    if stream is None:
        return
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return
        buf.add(chunk)


_probe_cache: dict[str, str | None] = {}


def _run_quiet(argv: list[str]) -> str | None:
    """Run a probe command; None when it worked, else a short reason."""
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{argv[0]}: {exc}"
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"{argv[0]} exited {proc.returncode}: {err[-1] if err else ''}"
    return None


def _probe(mechanism: str) -> str | None:
    """Does ``mechanism`` work here? Cached once per process. None means yes."""
    if mechanism in _probe_cache:
        return _probe_cache[mechanism]
    root = os.geteuid() == 0
    reason: str | None
    if mechanism == "bwrap":
        exe = shutil.which("bwrap")
        if exe is None:
            reason = "bwrap is not installed"
        else:
            argv = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
            argv += ["--tmpfs", "/tmp", "--unshare-net", "--unshare-pid", "--die-with-parent"]
            if not root:
                argv += ["--unshare-user"]
            argv += ["--", *_drop_privileges(_UID_BASE), "true"]
            reason = _run_quiet(argv)
    elif mechanism == "unshare":
        exe = shutil.which("unshare")
        if exe is None:
            reason = "unshare is not installed"
        else:
            flags = ["-n", "-p", "-f", "--kill-child"] if root else ["-r", "-n", "-p", "-f"]
            reason = _run_quiet([exe, *flags, *_drop_privileges(_UID_BASE), "true"])
    else:
        reason = None
    _probe_cache[mechanism] = reason
    return reason


def _drop_privileges(uid: int) -> list[str]:
    """argv prefix that switches a root caller to an unprivileged uid (nothing otherwise)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise SandboxUnavailableError(
            "the sandbox runs commands as an unprivileged user when started as root, "
            "and needs `setpriv` for that: run  apt-get install util-linux"
        )
    return [
        setpriv,
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
    ]


def _blocked_ancestor(path: Path, *, itself: bool = False) -> Path | None:
    """The topmost ancestor of ``path`` (or ``path`` itself) other users cannot traverse."""
    for parent in [*reversed(path.parents), *([path] if itself else [])]:
        if parent == Path("/"):
            continue
        try:
            mode = parent.stat().st_mode
        except OSError:
            return None
        if not mode & stat.S_IXOTH:
            return parent
    return None


def interpreter_paths() -> list[Path]:
    """Directories the running Python needs, to expose read-only inside a sandbox.

    Example::

        >>> any(Path(sys.executable).resolve().is_relative_to(p) for p in interpreter_paths())
        True
    """
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent}
    paths.add(Path(sys.executable).parent)
    return sorted({p.resolve() for p in paths})


class SandboxProject:
    """One fresh project directory; run several commands in it (compile, then test).

    Obtain it from :meth:`Sandbox.project`; the directory is deleted on exit.
    """

    def __init__(self, sandbox: Sandbox, path: Path, uid: int) -> None:
        self.sandbox = sandbox
        self.path = path
        self._uid = uid

    def write(self, files: Mapping[str, str]) -> None:
        """Write ``{relative path: text}`` into the project (paths may not escape it)."""
        for rel, text in files.items():
            target = self._resolve(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        self._give_to_sandbox_user()

    def read_text(self, rel: str, limit: int | None = None) -> str | None:
        """A file the command wrote; at most ``limit`` bytes.

        ``None`` when absent, not a regular file, or a symlink leading out of the project
        (the command may have planted one to make the caller read a host file).
        """
        try:
            target = self._resolve(rel)
        except ValueError:
            return None
        if not target.is_file():
            return None
        cap = limit if limit is not None else self.sandbox.max_output
        with open(target, "rb") as fh:
            data = fh.read(cap + 1)
        text = data[:cap].decode("utf-8", "replace")
        if len(data) > cap:
            text += _TRUNCATION_MARKER.format(n=target.stat().st_size - cap)
        return text

    def _resolve(self, rel: str) -> Path:
        if not isinstance(rel, str) or not rel or rel.startswith(("/", "\\")):
            raise ValueError(f"sandbox file path must be a relative path, got {rel!r}")
        target = (self.path / rel).resolve()
        if not target.is_relative_to(self.path.resolve()):
            raise ValueError(f"sandbox file path {rel!r} leaves the project directory")
        return target

    def _give_to_sandbox_user(self) -> None:
        if os.geteuid() != 0 or self.sandbox.mode == "none":
            return
        for dirpath, dirnames, filenames in os.walk(self.path):
            os.chown(dirpath, self._uid, self._uid)
            for name in [*dirnames, *filenames]:
                os.lchown(os.path.join(dirpath, name), self._uid, self._uid)

    async def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        collect: Sequence[str] = (),
        stdin: str | None = None,
    ) -> SandboxResult:
        """Run ``argv`` inside the project directory under every limit of the sandbox."""
        return await self.sandbox._execute(self, list(argv), timeout, env, collect, stdin)


class Sandbox:
    """Runs commands on untrusted code with no network and bounded resources.

    ``timeout`` is wall-clock seconds per command; ``cpu_seconds`` (default: twice the
    timeout, rounded up) the CPU time of each process; ``memory_mb`` the data-segment
    limit of each process; ``max_processes`` the number of processes and threads the
    command may run at once; ``max_output`` the bytes kept of each of stdout and stderr.
    ``readonly_paths`` are extra host directories the command must see (read-only; the
    toolchains add theirs). ``root`` is where project directories are created (a fresh
    one per run; default: the system temp directory).

    Example::

        >>> Sandbox(isolation="bwrap", timeout=5).describe().startswith("Sandbox(bwrap")
        True
    """

    def __init__(
        self,
        isolation: str = "auto",
        timeout: float = 30.0,
        *,
        memory_mb: int = 1024,
        max_processes: int = 256,
        max_output: int = 1_000_000,
        cpu_seconds: float | None = None,
        max_file_mb: int = 256,
        readonly_paths: Sequence[str | os.PathLike[str]] = (),
        env: Mapping[str, str] | None = None,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        if isolation not in ISOLATIONS:
            raise ValueError(f"Sandbox isolation must be one of {ISOLATIONS}, got {isolation!r}")
        for name, value in (
            ("timeout", timeout),
            ("memory_mb", memory_mb),
            ("max_processes", max_processes),
            ("max_output", max_output),
            ("max_file_mb", max_file_mb),
        ):
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"Sandbox {name} must be a positive number, got {value!r}")
        self.isolation = isolation
        self.timeout = float(timeout)
        self.memory_mb = int(memory_mb)
        self.max_processes = int(max_processes)
        self.max_output = int(max_output)
        self.cpu_seconds = cpu_seconds
        self.max_file_mb = int(max_file_mb)
        self.readonly_paths = [Path(p) for p in readonly_paths]
        self.env = dict(env or {})
        self.root = Path(root) if root is not None else None
        self.mode = self._choose_mode(isolation)

    @staticmethod
    def _choose_mode(isolation: str) -> str:
        if isolation == "none":
            warnings.warn(
                "Sandbox(isolation='none'): generated code runs WITHOUT isolation "
                "(network, file system and your environment are reachable); "
                "install bubblewrap (apt-get install bubblewrap) to isolate it",
                RuntimeWarning,
                stacklevel=3,
            )
            return "none"
        tried: list[str] = []
        for mech in ("bwrap", "unshare") if isolation == "auto" else (isolation,):
            reason = _probe(mech)
            if reason is None:
                return mech
            tried.append(f"{mech}: {reason}")
        raise SandboxUnavailableError(
            "no sandbox mechanism works on this machine ("
            + "; ".join(tried)
            + "): run  apt-get install bubblewrap  (or pass Sandbox(isolation='none') "
            "to run generated code unisolated, knowingly)"
        )

    def describe(self) -> str:
        return (
            f"Sandbox({self.mode}, timeout={self.timeout:g}s, memory={self.memory_mb}MB, "
            f"processes={self.max_processes}, output={self.max_output}B)"
        )

    __repr__ = describe

    def with_paths(self, *paths: str | os.PathLike[str]) -> Sandbox:
        """A copy of this sandbox that also exposes ``paths`` read-only."""
        clone = object.__new__(Sandbox)
        clone.__dict__.update(self.__dict__)
        clone.readonly_paths = [*self.readonly_paths, *(Path(p) for p in paths)]
        return clone

    @contextlib.asynccontextmanager
    async def project(
        self, files: Mapping[str, str] | None = None
    ) -> AsyncIterator[SandboxProject]:
        """A fresh project directory holding ``files``; removed afterwards."""
        root = self.root or Path(tempfile.gettempdir())
        root.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="agentic-nb-sbx-", dir=root)).resolve()
        uid = _UID_BASE + (os.getpid() * 7919 + next(_uid_counter)) % _UID_SPAN
        proj = SandboxProject(self, path, uid)
        try:
            os.chmod(path, 0o755)
            proj.write(dict(files or {}))
            yield proj
        finally:
            shutil.rmtree(path, ignore_errors=True)

    async def run(
        self,
        argv: Sequence[str],
        files: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        collect: Sequence[str] = (),
        stdin: str | None = None,
    ) -> SandboxResult:
        """Run ``argv`` in a fresh project directory holding ``files`` (``{path: text}``)."""
        async with self.project(files) as proj:
            return await proj.run(argv, timeout=timeout, env=env, collect=collect, stdin=stdin)

    # -- internals -----------------------------------------------------------------

    def _limits(self, timeout: float) -> list[str]:
        cpu = self.cpu_seconds if self.cpu_seconds is not None else 2 * timeout
        cpu_s = max(1, math.ceil(cpu))
        data = self.memory_mb * 1024 * 1024
        fsize = self.max_file_mb * 1024 * 1024
        prlimit = shutil.which("prlimit")
        if prlimit is None:
            raise SandboxUnavailableError(
                "the sandbox needs `prlimit`: run  apt-get install util-linux"
            )
        return [
            prlimit,
            f"--cpu={cpu_s}:{cpu_s + 1}",
            f"--data={data}",
            f"--nproc={self.max_processes}",
            f"--fsize={fsize}",
            "--core=0",
            "--",
        ]

    def _bwrap_argv(self, proj: SandboxProject) -> list[str]:
        argv = ["bwrap", "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid"]
        argv += ["--unshare-ipc", "--unshare-uts", "--hostname", "sandbox"]
        if os.geteuid() != 0:
            argv += ["--unshare-user"]
        argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        argv += ["--perms", "1777", "--tmpfs", "/tmp"]
        # The private /tmp hides whatever the command needs from the host's /tmp (e.g. a
        # project checked out there, with its venv): those paths are bound back below.
        hidden: set[Path] = {Path("/tmp").resolve()}
        if os.geteuid() == 0:
            # Directories only root may traverse (e.g. /root holding the venv or the
            # toolchain cache): hide them behind an empty tmpfs, then bind back exactly
            # the paths the command needs, read-only.
            for p in self._visible_paths():
                blocked = _blocked_ancestor(p)
                if blocked is not None and blocked not in hidden:
                    hidden.add(blocked)
                    argv += ["--tmpfs", str(blocked)]
        made: set[Path] = set()
        for p in self._visible_paths():
            under = [h for h in hidden if p.is_relative_to(h)]
            if not under:
                continue
            base = max(under, key=lambda h: len(h.parts))  # the innermost hidden directory
            # bwrap would create the missing parents 0700 (root only): make them 0755.
            for parent in reversed(p.parents):
                if parent.is_relative_to(base) and parent != base:
                    if parent not in made:
                        made.add(parent)
                        argv += ["--perms", "0755", "--dir", str(parent)]
            argv += ["--ro-bind", str(p), str(p)]
        argv += ["--bind", str(proj.path), str(proj.path), "--chdir", str(proj.path)]
        return [*argv, "--"]

    def _visible_paths(self) -> list[Path]:
        out: list[Path] = []
        for p in self.readonly_paths:
            if p.exists():
                out.append(p.resolve())
        return sorted(set(out))

    def _check_reachable(self) -> None:
        """Without a mount namespace, an unprivileged uid must be able to reach every path."""
        if os.geteuid() != 0:
            return
        for p in self._visible_paths():
            blocked = _blocked_ancestor(p, itself=p.is_dir())
            if blocked is not None:
                raise SandboxUnavailableError(
                    f"sandbox mode 'unshare' runs commands as an unprivileged user, who cannot "
                    f"reach {p} (its parent {blocked} is private): install bubblewrap "
                    f"(apt-get install bubblewrap) or move that directory somewhere readable "
                    f"(for toolchains: set AGENTIC_NB_TOOLCHAINS)"
                )

    def _wrap(self, proj: SandboxProject, argv: list[str], timeout: float) -> list[str]:
        if self.mode == "none":
            return argv
        limits = self._limits(timeout)
        drop = _drop_privileges(proj._uid)
        if self.mode == "bwrap":
            return [*self._bwrap_argv(proj), *limits, *drop, *argv]
        self._check_reachable()
        root = os.geteuid() == 0
        flags = (
            ["-n", "-p", "-f", "--kill-child"] if root else ["-r", "-n", "-p", "-f", "--kill-child"]
        )
        return ["unshare", *flags, "--", *limits, *drop, *argv]

    async def _execute(
        self,
        proj: SandboxProject,
        argv: list[str],
        timeout: float | None,
        env: Mapping[str, str] | None,
        collect: Sequence[str],
        stdin: str | None,
    ) -> SandboxResult:
        if not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError(f"sandbox argv must be a non-empty list of strings, got {argv!r}")
        limit = float(timeout) if timeout is not None else self.timeout
        merged = {**self.env, **(env or {})}
        heap = max(64, int(self.memory_mb * 0.75))
        node_opts = f"--max-old-space-size={heap}"
        if "NODE_OPTIONS" in merged:
            node_opts = f"{merged['NODE_OPTIONS']} {node_opts}"
        merged["NODE_OPTIONS"] = node_opts
        full_env = scrub_env(merged, home=str(proj.path))
        full = self._wrap(proj, argv, limit)
        out, err = _CappedBuffer(self.max_output), _CappedBuffer(self.max_output)
        start = time.perf_counter()
        try:
            proc = await asyncio.create_subprocess_exec(
                *full,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=str(proj.path),
                env=full_env,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"sandbox: cannot start {full[0]!r}: {exc}") from exc
        readers = asyncio.gather(_drain(proc.stdout, out), _drain(proc.stderr, err))
        if stdin is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(stdin.encode())
                await proc.stdin.drain()
                proc.stdin.close()
        timed_out = False
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), limit)
        except TimeoutError:
            timed_out = True
        except asyncio.CancelledError:
            _kill_group(proc.pid)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 5)
            readers.cancel()
            raise
        if timed_out:
            _kill_group(proc.pid)
            await proc.wait()
        try:
            # Grandchildren outside the process group may hold the pipes open: bounded wait.
            await asyncio.wait_for(readers, 5)
        except TimeoutError:
            readers.cancel()
        duration = time.perf_counter() - start
        rc = proc.returncode if proc.returncode is not None else -signal.SIGKILL
        stdout, stderr = out.text(), err.text()
        reason = ""
        if timed_out:
            reason = f"timeout after {limit:g}s (wall clock)"
        else:
            reason = _killed_reason(rc, stderr)
        collected: dict[str, str] = {}
        for rel in collect:
            text = proj.read_text(rel)
            if text is not None:
                collected[rel] = text
        return SandboxResult(
            returncode=rc,
            stdout=stdout,
            stderr=stderr,
            timed_out=timed_out,
            killed_reason=reason,
            duration=duration,
            truncated=out.truncated or err.truncated,
            files=collected,
        )


_OOM_SIGNS = (
    "MemoryError",
    "heap out of memory",
    "Cannot allocate memory",
    "std::bad_alloc",
    "out of memory",
    "Failed to reserve virtual memory",
)


def _killed_reason(rc: int, stderr: str) -> str:
    sig = -rc if rc < 0 else (rc - 128 if 128 < rc < 160 else 0)
    if sig == signal.SIGXCPU:
        return "CPU time limit"
    if sig == signal.SIGXFSZ:
        return "file size limit"
    tail = stderr[-4000:]
    if rc != 0 and any(s in tail for s in _OOM_SIGNS):
        return "memory limit"
    if sig in (signal.SIGKILL, signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS):
        return f"killed by signal {sig} ({signal.Signals(sig).name})"
    return ""


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
