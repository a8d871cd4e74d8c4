"""Fixtures shared by the integration tests (the servers' fixtures are in tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from tests.factories import CHEAP_ARGON2
from tests.integration.web_support import RoleWeb, start_web
from tests.integration.x_support import fake, x  # noqa: F401 - the X rig's fixtures
from tests.servers import unavailable
from tests.servers.osmem import FixtureStore, es_store_factory


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


@pytest.fixture(params=["sqlite", "elastic"])
async def any_web(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RoleWeb]:
    """The app on each store (a form rate limit no test reaches); the Elasticsearch
    indices are dropped afterwards."""
    store: FixtureStore | None = None
    if request.param == "elastic":
        store = es_store_factory(request.getfixturevalue("osmem_url"))
    async for w in start_web(store, db=f"{tmp_path}/inbox.db",
                             env={"INBOX_FORM_RATE_LIMIT": "1000000"}):
        yield w
    if store is not None:
        await store.delete_indices()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    """A Chromium for the test (missing: a failure under CI=true, a skip elsewhere)."""
    if not os.path.exists(CHROMIUM):
        unavailable("Chromium is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser_page(chromium: Any) -> AsyncIterator[Any]:
    page = await chromium.new_page()
    page.set_default_timeout(10_000)
    yield page
