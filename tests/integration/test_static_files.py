"""The app's CSS and JavaScript: served from memory with an ETag, revalidated with a 304,
nothing else under /static (no path leads out of the folder)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.web_support import RoleWeb, start_web

pytestmark = pytest.mark.integration
STATIC = Path(__file__).parents[2] / "web" / "static"


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=str(tmp_path / "inbox.db")):
        yield w


async def test_files_are_served_and_revalidated(web: RoleWeb) -> None:
    resp = await web.client.get("/static/app.css")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/css; charset=utf-8"
    assert await resp.read() == (STATIC / "app.css").read_bytes()
    tag = resp.headers["ETag"]
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    again = await web.client.get("/static/app.css", headers={"If-None-Match": tag})
    assert again.status == 304 and await again.read() == b""
    script = await web.client.get("/static/workspace.js")
    assert script.status == 200 and "javascript" in script.headers["Content-Type"]
    assert script.headers["ETag"] != tag


@pytest.mark.parametrize("path", ["/static/nope.js", "/static/..%2Fapp.py", "/static/",
                                  "/static/app.css%00", "/static/APP.CSS"])
async def test_nothing_else_is_served(web: RoleWeb, path: str) -> None:
    resp = await web.client.get(path)
    assert resp.status in (400, 404)  # a NUL in a path is a 400 before any route
