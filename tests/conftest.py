from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import RedisServer, ServerProcess


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session; tests that need a clean one call ``flush()``."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One `teleconsult serve` node on a real Redis of its own, shared by the tests of a session
    that do not depend on the queue being empty; the others use ``fresh_server``."""
    redis = RedisServer(tmp_path_factory.mktemp("redis-shared")).start()
    proc = ServerProcess(tmp_path_factory.mktemp("node"), redis_url=redis.url).start()
    yield proc
    proc.stop()
    redis.stop()


@pytest.fixture
def fresh_server(tmp_path: Path, redis_server: RedisServer) -> Iterator[ServerProcess]:
    """A node of its own, on an emptied Redis and a new database."""
    redis_server.flush()
    proc = ServerProcess(tmp_path / "node", redis_url=redis_server.url).start()
    yield proc
    proc.stop()
