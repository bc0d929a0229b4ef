"""The sandbox, on the real thing: each limit is shown to hold with real processes."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentic_nb.codegen import _sandbox
from agentic_nb.codegen._sandbox import (
    Sandbox,
    SandboxUnavailableError,
    interpreter_paths,
    is_secret_name,
    scrub_env,
)

PY = sys.executable
WT = Path(__file__).resolve().parents[2]


def py_sandbox(**kw: object) -> Sandbox:
    """A bubblewrap sandbox that can run this interpreter."""
    return Sandbox(isolation="bwrap", readonly_paths=interpreter_paths(), **kw)  # type: ignore[arg-type]


def sandbox_uid_processes(token: str) -> list[str]:
    """Processes owned by a sandbox uid whose command line holds ``token``.

    (Other test sessions may run sandboxes at the same time: ``token`` picks ours.)
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
            if _sandbox._UID_BASE <= uid < _sandbox._UID_BASE + _sandbox._UID_SPAN:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
                if token in cmd.replace("\0", " "):
                    found.append(cmd)
        except OSError:
            continue
    return found


def no_sandbox_processes_left(token: str, within: float = 3.0) -> bool:
    """True once no sandbox-uid process is left (the kernel reaps a dying namespace quickly)."""
    deadline = time.monotonic() + within
    while sandbox_uid_processes(token):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def listener() -> Iterator[int]:
    """A real TCP server on 127.0.0.1 that accepts connections (and counts them)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            accepted.append(1)
            conn.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join()
        srv.close()


CONNECT = """
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()
    print("CONNECTED")
except OSError as e:
    print("REFUSED", e)
"""


async def test_loopback_connect_fails_inside(listener: int) -> None:
    # Control: the same program outside the sandbox reaches the listener.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bare = Sandbox(isolation="none", timeout=10)
    res = await bare.run([PY, "-c", CONNECT, str(listener)])
    assert "CONNECTED" in res.stdout
    res = await py_sandbox(timeout=10).run([PY, "-c", CONNECT, str(listener)])
    assert res.returncode == 0, res
    assert "REFUSED" in res.stdout and "CONNECTED" not in res.stdout


async def test_unshare_mode_has_no_network_either(listener: int) -> None:
    sb = Sandbox(isolation="unshare", timeout=10)
    cmd = f"exec 3<>/dev/tcp/127.0.0.1/{listener} && echo CONNECTED || echo REFUSED"
    res = await sb.run(["bash", "-c", cmd])
    assert "REFUSED" in res.stdout and "CONNECTED" not in res.stdout


async def test_2gb_allocation_is_stopped() -> None:
    sb = py_sandbox(timeout=20, memory_mb=512)
    prog = "b = bytearray(2 * 1024**3); b[::4096] = b'x' * len(b[::4096]); print('ALLOCATED')"
    res = await sb.run([PY, "-c", prog])
    assert "ALLOCATED" not in res.stdout
    assert res.returncode != 0
    assert res.killed_reason == "memory limit"
    # Under the same limit a modest allocation is fine: the limit is what stops the big one.
    res = await sb.run([PY, "-c", prog.replace("2 * 1024**3", "64 * 1024**2")])
    assert res.returncode == 0 and "ALLOCATED" in res.stdout, res


async def test_node_runaway_allocation_is_stopped() -> None:
    sb = Sandbox(isolation="bwrap", timeout=20, memory_mb=256)
    prog = "const a = []; for (;;) a.push(new Array(1e6).fill(1)); console.log('DONE')"
    res = await sb.run(["node", "-e", prog])
    assert res.returncode != 0 and "DONE" not in res.stdout
    assert res.killed_reason in ("memory limit",) or "heap" in res.stderr, res
    assert res.duration < 20


FORKS = """
import os, time
n = 0
try:
    for _ in range(500):
        if os.fork() == 0:
            time.sleep(20)
            os._exit(0)
        n += 1
except OSError as e:
    print("FORK FAILED", e.errno)
print("FORKED", n, flush=True)
"""


async def test_fork_bomb_is_contained() -> None:
    sb = py_sandbox(timeout=10, max_processes=24)
    start = time.monotonic()
    res = await sb.run([PY, "-c", FORKS])
    assert "FORK FAILED 11" in res.stdout, res  # EAGAIN: the process limit
    forked = int(res.stdout.split("FORKED")[1].split()[0])
    assert forked < 24
    assert time.monotonic() - start < 10  # it ended with its own process, not at the timeout
    assert no_sandbox_processes_left("FORK FAILED")  # the sleeping children died too


async def test_shell_fork_bomb_ends_at_the_timeout_and_leaves_nothing() -> None:
    sb = Sandbox(isolation="bwrap", timeout=3, max_processes=64)
    start = time.monotonic()
    res = await sb.run(["bash", "-c", "b() { b | b & }; b; wait"])
    assert time.monotonic() - start < 10
    assert "fork: retry: Resource temporarily unavailable" in res.stderr  # the limit bit
    assert no_sandbox_processes_left("b | b")  # and the whole tree died with the sandbox
    assert os.getloadavg()[0] < 50  # the machine stayed usable


async def test_sleep_is_killed_at_the_timeout_with_its_children() -> None:
    for isolation in ("bwrap", "unshare"):
        sb = Sandbox(isolation=isolation, timeout=1)
        start = time.monotonic()
        res = await sb.run(["sh", "-c", "sleep 300 & (sleep 301 &) ; sleep 302"])
        took = time.monotonic() - start
        assert res.timed_out, (isolation, res)
        assert res.killed_reason == "timeout after 1s (wall clock)"
        assert 0.9 < took < 4, took
        for token in ("sleep 300", "sleep 301", "sleep 302"):
            assert no_sandbox_processes_left(token), (isolation, token)


async def test_a_setsid_child_dies_too() -> None:
    sb = Sandbox(isolation="bwrap", timeout=2)
    task = asyncio.create_task(sb.run(["sh", "-c", "setsid sleep 303 & sleep 304"]))
    await asyncio.sleep(1.0)
    assert sandbox_uid_processes("sleep 303")  # it runs, in a session of its own
    res = await task
    assert res.timed_out
    assert no_sandbox_processes_left("sleep 303")


async def test_writes_outside_the_project_fail_and_change_nothing(tmp_path: Path) -> None:
    outside = WT / f".sbx-outside-{os.getpid()}"
    outside.mkdir(mode=0o777)
    os.chmod(outside, 0o777)  # writable by anyone: only the sandbox stops the write
    try:
        sb = Sandbox(isolation="bwrap", timeout=10)
        script = (
            f"echo evil > {outside}/evil.txt; echo evil > /etc/agentic-evil; "
            f"echo evil > /tmp/scratch && echo TMP_OK; echo fine > ok.txt"
        )
        async with sb.project({"in.txt": "x"}) as proj:
            res = await proj.run(["sh", "-c", script])
            assert proj.read_text("ok.txt") == "fine\n"
        assert "Read-only file system" in res.stderr
        assert "TMP_OK" in res.stdout  # a private /tmp works
        assert not (outside / "evil.txt").exists()
        assert not Path("/etc/agentic-evil").exists()
        assert not Path("/tmp/scratch").exists()
        assert not proj.path.exists()  # the project directory is removed afterwards
    finally:
        shutil.rmtree(outside, ignore_errors=True)


async def test_root_only_files_stay_unreadable() -> None:
    secret = Path.home() / f".agentic-sbx-secret-{os.getpid()}"
    secret.write_text("TOPSECRET")
    secret.chmod(0o600)
    try:
        res = await Sandbox(isolation="bwrap", timeout=10).run(["cat", str(secret)])
        assert "TOPSECRET" not in res.stdout and res.returncode != 0
    finally:
        secret.unlink()


async def test_100mb_print_is_truncated_with_a_marker() -> None:
    sb = py_sandbox(timeout=30, max_output=100_000)
    prog = "import sys\nfor _ in range(100): sys.stdout.write('x' * 1_000_000)\nprint('THE END')"
    res = await sb.run([PY, "-c", prog])
    assert res.returncode == 0, res.stderr
    assert res.truncated
    assert len(res.stdout) < 101_000
    assert "bytes truncated by the sandbox" in res.stdout
    assert res.stdout.rstrip().endswith("THE END")  # the tail is kept


async def test_secrets_from_the_environment_are_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-openai")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-secret-token")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://secret-proxy")
    sb = Sandbox(isolation="bwrap", timeout=10, env={"FOO": "bar", "MY_API_KEY": "sk-passed"})
    async with sb.project() as proj:
        res = await proj.run(["env"])
    assert "secret" not in res.stdout.lower()
    assert "sk-passed" not in res.stdout
    assert "FOO=bar" in res.stdout
    assert f"HOME={proj.path}" in res.stdout


def test_secret_names() -> None:
    for name in ("OPENAI_API_KEY", "NPM_TOKEN", "DB_PASSWORD", "AZURE_CLIENT_ID", "GOOGLE_CREDS"):
        assert is_secret_name(name), name
    for name in ("PATH", "LANG", "NODE_OPTIONS", "FOO"):
        assert not is_secret_name(name), name
    assert "OPENAI_API_KEY" not in scrub_env({"OPENAI_API_KEY": "x"})


async def test_collect_and_several_commands_in_one_project() -> None:
    sb = Sandbox(isolation="bwrap", timeout=10)
    async with sb.project({"src/a.txt": "one"}) as proj:
        r1 = await proj.run(["sh", "-c", "mkdir -p out && cat src/a.txt > out/b.txt"])
        r2 = await proj.run(["cat", "out/b.txt"], collect=["out/b.txt", "missing.txt"])
    assert r1.ok and r2.stdout == "one"
    assert r2.files == {"out/b.txt": "one"}


async def test_a_planted_symlink_does_not_make_the_caller_read_host_files() -> None:
    sb = Sandbox(isolation="bwrap", timeout=10)
    cmd = "ln -s /etc/hostname report.json && mkfifo pipe && echo in > inside.txt"
    cmd += " && ln -s inside.txt link.txt"
    res = await sb.run(["sh", "-c", cmd], collect=["report.json", "pipe", "link.txt"])
    assert res.ok, res
    assert res.files == {"link.txt": "in\n"}  # a link inside the project is fine


async def test_bad_file_paths_are_refused() -> None:
    sb = Sandbox(isolation="bwrap", timeout=10)
    for bad in ("../escape.txt", "/etc/passwd", ""):
        with pytest.raises(ValueError, match="sandbox file path"):
            await sb.run(["true"], files={bad: "x"})


def test_isolation_none_warns_and_bad_values_are_refused() -> None:
    with pytest.warns(RuntimeWarning, match="WITHOUT isolation"):
        Sandbox(isolation="none")
    with pytest.raises(ValueError, match="isolation must be one of"):
        Sandbox(isolation="docker")
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        Sandbox(timeout=0)


def test_no_mechanism_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_sandbox, "_probe_cache", {})
    monkeypatch.setenv("PATH", str(tmp_path))  # neither bwrap nor unshare can be found
    with pytest.raises(SandboxUnavailableError, match="apt-get install bubblewrap"):
        Sandbox(isolation="auto")


def test_unshare_mode_refuses_paths_it_cannot_show() -> None:
    if os.geteuid() != 0:
        pytest.fail("this test must run as root (the CI machine does)")
    sb = Sandbox(isolation="unshare", readonly_paths=[Path.home()])
    with pytest.raises(SandboxUnavailableError, match="install bubblewrap"):
        sb._check_reachable()


async def test_cancelling_a_run_kills_the_command() -> None:
    sb = Sandbox(isolation="bwrap", timeout=60)
    task = asyncio.create_task(sb.run(["sleep", "305"]))
    await asyncio.sleep(1.0)
    assert sandbox_uid_processes("sleep 305")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert no_sandbox_processes_left("sleep 305")


async def test_auto_picks_bubblewrap_here() -> None:
    assert Sandbox().mode == "bwrap"


async def test_read_only_paths_under_the_hosts_tmp_stay_visible() -> None:
    # A checkout (and its venv) under /tmp must be visible inside the private /tmp.
    import tempfile

    host = Path(tempfile.mkdtemp(prefix="agentic-nb-host-", dir="/tmp"))
    try:
        os.chmod(host, 0o755)
        (host / "lib").mkdir()
        os.chmod(host / "lib", 0o755)
        (host / "lib" / "data.txt").write_text("visible\n")
        os.chmod(host / "lib" / "data.txt", 0o644)
        box = Sandbox(timeout=10, readonly_paths=[host / "lib"])
        res = await box.run(["cat", str(host / "lib" / "data.txt")])
        assert res.returncode == 0 and res.stdout == "visible\n", res
        wrote = await box.run(["sh", "-c", f"echo x > {host}/lib/new.txt"])
        assert wrote.returncode != 0 and not (host / "lib" / "new.txt").exists()
    finally:
        shutil.rmtree(host, ignore_errors=True)
