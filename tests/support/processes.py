"""Real programs started by tests on loopback: redis-server and `teleconsult serve`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

REPO = Path(__file__).resolve().parents[2]
TELECONSULT = Path(sys.executable).parent / "teleconsult"
DEMO_PASSWORD = "Demo-Password-2026!"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


@dataclass
class RedisServer:
    """A real redis-server (Debian's package) on a free loopback port, no persistence."""

    workdir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        for _ in range(5):
            self.port = free_port()
            if self._spawn():
                return self
        raise RuntimeError("redis-server did not start")

    def start_again(self, timeout: float = 10.0) -> RedisServer:
        """After ``stop()``: a new, empty redis-server on the same port (no persistence), which is
        what a Redis restart looks like to the nodes connected to it."""
        if self.port == 0:
            raise RuntimeError("start() first: there is no port to start again on")
        deadline = time.monotonic() + timeout
        while True:
            if self._spawn():
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start again on port {self.port}")
            time.sleep(0.1)

    def restart_empty(self) -> RedisServer:
        """Stop this redis-server and start an empty one on the same port at once."""
        self.stop()
        return self.start_again()

    def _spawn(self) -> bool:
        """Start redis-server on ``self.port``; True once it answers PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run `make test`, which installs it")
        self.proc = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.proc.poll() is None:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn,
            ):
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return True
            time.sleep(0.02)
        _stop(self.proc)
        return False

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
            conn.sendall(b"FLUSHALL\r\n")
            conn.recv(16)


@dataclass
class ServerProcess:
    """`teleconsult serve --port 0` in a subprocess; its port is read from `LISTENING <port>`.

    ``bind_port`` fixes the port instead (e.g. ``free_port()``), so that a node started again
    after ``kill()`` listens where its clients reconnect by themselves."""

    data_dir: Path
    redis_url: str | None = None
    extra_args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    bind_port: int = 0
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _log: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        args = [
            str(TELECONSULT),
            "serve",
            "--port",
            str(self.bind_port),
            "--data-dir",
            str(self.data_dir),
            "--demo",
        ]
        if self.redis_url:
            args += ["--redis-url", self.redis_url]
        args += list(self.extra_args)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / f"server-{time.monotonic_ns()}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TELECONSULT_")}
        env.update(self.env)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=self._log, env=env, cwd=REPO
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            if line.startswith("LISTENING "):
                self.port = int(line.split()[1])
                return self
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
        self._close_files()

    def kill(self) -> None:
        """kill -9: no clean-up at all."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._close_files()

    def _close_files(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path else ""


async def wait_for(predicate: object, timeout: float = 5.0, interval: float = 0.02) -> None:
    """Poll ``predicate()`` (sync or async) until it is truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


@dataclass
class Coturn:
    """A real coturn (Debian's `turnserver`) on loopback, with the shared-secret scheme the
    service uses. Only this test instance allows loopback peers; production denies loopback,
    private and link-local peers (docs/OPERATIONS.md)."""

    workdir: Path
    secret: str = "coturn-test-secret-0123456789"
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def start(self) -> Coturn:
        binary = shutil.which("turnserver")
        if binary is None:
            raise RuntimeError("coturn is not installed: run `make test`, which installs it")
        if self.port == 0:
            self.port = free_port()
        relay_base = 40000 + (self.port % 1000) * 20
        self.proc = subprocess.Popen(
            [
                binary,
                "--listening-ip",
                "127.0.0.1",
                "--relay-ip",
                "127.0.0.1",
                "--listening-port",
                str(self.port),
                "--min-port",
                str(relay_base),
                "--max-port",
                str(relay_base + 19),
                "--use-auth-secret",
                "--static-auth-secret",
                self.secret,
                "--realm",
                "teleconsult.test",
                "--allow-loopback-peers",
                "--no-tls",
                "--no-dtls",
                "--no-cli",
                "--fingerprint",
                "--no-multicast-peers",
                "--userdb",
                str(self.workdir / "turndb"),
                "--pidfile",
                str(self.workdir / "turn.pid"),
                "--log-file",
                str(self.workdir / "turn.log"),
                "--simple-log",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise RuntimeError("turnserver did not start")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None

    def log(self) -> str:
        path = self.workdir / "turn.log"
        return path.read_text(errors="replace") if path.exists() else ""
