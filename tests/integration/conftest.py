"""Fixtures shared by the integration tests (the servers' fixtures are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from tests.factories import CHEAP_ARGON2


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    """The application on a fresh SQLite store, no channel configured (a test adds its own
    connectors), a failed connector restarted within milliseconds."""
    env = {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false",
           **CHEAP_ARGON2}
    rt = Runtime(load_config(None, env), env, channels=False)
    rt.restart_backoff = (0.001, 0.004)
    await rt.start()
    try:
        yield rt
    finally:
        await rt.aclose()
