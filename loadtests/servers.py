"""The real programs a load test starts on loopback: Debian's redis-server and `teleconsult serve`
(on a free port, its output in a log file), stopped by pid whatever happens."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path


class StartError(RuntimeError):
    """A program did not start; the message says where its log is."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout)


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise StartError("redis-server is needed (make sysdeps, or apt-get install redis-server)")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        + ["--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return proc, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    stop(proc)
    raise StartError("redis-server did not start")


def start_server(
    data_dir: Path,
    redis_url: str,
    env: Mapping[str, str],
    log_name: str = "server.log",
    extra_args: Sequence[str] = (),
) -> tuple[subprocess.Popen[bytes], str]:
    """`teleconsult serve` on a free loopback port with ``env`` added to a clean environment
    (no TELECONSULT_* inherited); returns the process and its base URL."""
    teleconsult = Path(sys.executable).parent / "teleconsult"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TELECONSULT_")}
    clean.update(env)
    log = data_dir / log_name
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [str(teleconsult), "serve", "--port", "0", "--data-dir", str(data_dir)]
            + ["--redis-url", redis_url, "--log-level", "WARNING", *extra_args],
            stdout=subprocess.PIPE,
            stderr=err,
            env=clean,
        )
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        if line.startswith("LISTENING "):
            return proc, f"http://127.0.0.1:{line.split()[1]}"
        if not line and proc.poll() is not None:
            break
    stop(proc)
    raise StartError(f"the server did not start: see {log}")
