"""Shared fixtures: the Store parametrized over every backend, real servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inbox.store import Store
from search.sqlite import SqliteStore
from tests.fakes.core import FakeCore
from tests.servers.dovecot import dovecot_fixture  # noqa: F401
from tests.servers.osmem import (  # noqa: F401
    elastic_store,
    es_ops_proxy,
    es_ops_url,
    es_store_factory,
    ops_store,
    osmem_url,
)
from tests.servers.smtp import smtp_server_fixture  # noqa: F401

BACKENDS = ["sqlite", "elastic"]
INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration carries the integration marker (a module-level
    pytestmark), so that `pytest -m "not integration"` runs only unit and contract tests."""
    unmarked = [item.nodeid for item in items if INTEGRATION in item.path.parents
                and item.get_closest_marker("integration") is None]
    if unmarked:
        raise pytest.UsageError("integration tests without the integration marker (add "
                                "pytestmark = pytest.mark.integration): " + ", ".join(unmarked))


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An open, empty store of each backend."""
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "inbox.db")
        await sqlite.open()
        yield sqlite
        await sqlite.aclose()
        return
    es = es_store_factory(request.getfixturevalue("osmem_url"))
    await es.open()
    try:
        yield es
    finally:
        await es.delete_indices()
        await es.aclose()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "inbox.db")
    await s.open()
    yield s
    await s.aclose()


@pytest.fixture
def core() -> FakeCore:
    """A fake core for a connector under test: ``core.ctx()`` is its ConnectorContext."""
    return FakeCore()
