"""The processes of a capacity run (redis-server, server nodes, the raw relay, generators), each
on a free loopback port and pinned to its core when the machine has two, and what /proc says
about them. Every process started here is stopped by ``Processes.stop_all`` (also on error)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

from loadtests.capacity.generator import SECRET_ENV

SERVER_CORE = 0
GENERATOR_CORE = 1
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def can_pin() -> bool:
    return shutil.which("taskset") is not None and {0, 1} <= os.sched_getaffinity(0)


def pinned(core: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *argv] if can_pin() else argv


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            with suppress(ValueError):
                out[name] = float(value)
    return out


@dataclass
class Node:
    proc: subprocess.Popen[bytes]
    url: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def metrics(self, http: aiohttp.ClientSession) -> dict[str, float]:
        async with http.get(self.url + "/metrics") as resp:
            return parse_metrics(await resp.text())


class GeneratorProc:
    """One generator process and its JSON-line command channel."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def call(self, wait: float, /, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), wait)
        if not line:
            raise RuntimeError(f"generator exited during {cmd['cmd']}")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"generator failed {cmd['cmd']}: {reply.get('error')}")
        return reply


@dataclass
class Processes:
    work: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    generators: list[GeneratorProc] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    def _log(self, name: str) -> IO[bytes]:
        f = open(self.work / name, "wb")  # noqa: SIM115 - closed in stop_all
        self.logs.append(f)
        return f

    def start_redis(self) -> tuple[subprocess.Popen[bytes], str]:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is needed (apt-get install redis-server)")
        port = free_port()
        argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.work), "--maxclients", "10000"]
        proc = subprocess.Popen(
            pinned(SERVER_CORE, argv), stdout=self._log("redis.log"), stderr=subprocess.STDOUT
        )
        self.started.append(proc)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"redis://127.0.0.1:{port}/0"
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def _wait_listening(self, proc: subprocess.Popen[bytes], what: str, seconds: float) -> int:
        assert proc.stdout is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if line.startswith("LISTENING "):
                return int(line.split()[1])
            if not line and proc.poll() is not None:
                break
        raise RuntimeError(f"{what} did not start: see {self.work}")

    def start_server(
        self,
        name: str,
        data_dir: Path,
        redis_url: str,
        secret: str,
        tuning: bool,
        uvloop: bool,
        extra_env: dict[str, str] | None = None,
    ) -> Node:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TELECONSULT_")}
        env.update(
            {
                "TELECONSULT_JWT_SECRET": secret,
                "TELECONSULT_TUNING": "on" if tuning else "off",
                "TELECONSULT_PATIENT_GRACE_SECONDS": "3600",
                "TELECONSULT_CALL_GRACE_SECONDS": "3600",
                "TELECONSULT_OFFER_TIMEOUT_SECONDS": "60",
                # `teleconsult serve` runs on uvloop unless told otherwise: --uvloop chooses.
                "TELECONSULT_EVENT_LOOP": "uvloop" if uvloop else "asyncio",
            }
        )
        env.update(extra_env or {})
        argv = [sys.executable, "-m", "loadtests.capacity.serve"]
        argv += ["--uvloop"] if uvloop else []
        argv += ["serve", "--port", "0", "--data-dir", str(data_dir), "--redis-url", redis_url]
        argv += ["--log-level", "WARNING"]
        proc = subprocess.Popen(
            pinned(SERVER_CORE, argv),
            stdout=subprocess.PIPE,
            stderr=self._log(f"{name}.log"),
            env=env,
        )
        self.started.append(proc)
        port = self._wait_listening(proc, f"server {name}", 180)
        return Node(proc, f"http://127.0.0.1:{port}")

    def start_raw_relay(self, uvloop: bool) -> Node:
        argv = [sys.executable, "-m", "loadtests.capacity.raw_relay", "--port", "0"]
        argv += ["--uvloop"] if uvloop else []
        proc = subprocess.Popen(
            pinned(SERVER_CORE, argv), stdout=subprocess.PIPE, stderr=self._log("raw.log")
        )
        self.started.append(proc)
        port = self._wait_listening(proc, "raw relay", 30)
        return Node(proc, f"http://127.0.0.1:{port}")

    async def start_generators(self, count: int, secret: str) -> list[GeneratorProc]:
        env = dict(os.environ)
        env[SECRET_ENV] = secret
        for i in range(count):
            argv = pinned(GENERATOR_CORE, [sys.executable, "-m", "loadtests.capacity.generator"])
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=self._log(f"generator{i}.log"),
                env=env,
                limit=256 * 1024 * 1024,
            )
            self.generators.append(GeneratorProc(proc))
        return self.generators

    async def stop_generators(self) -> None:
        for gen in self.generators:
            with suppress(Exception):
                await gen.call(30, cmd="exit")
        for gen in self.generators:
            if gen.proc.returncode is None:
                with suppress(ProcessLookupError):
                    gen.proc.kill()
            with suppress(Exception):
                await asyncio.wait_for(gen.proc.wait(), 10)
        self.generators.clear()

    def stop_all(self) -> None:
        for gen in self.generators:
            if gen.proc.returncode is None:
                with suppress(ProcessLookupError):
                    gen.proc.kill()
        for proc in reversed(self.started):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(15)
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        self.started.clear()
        for f in self.logs:
            f.close()
        self.logs.clear()
