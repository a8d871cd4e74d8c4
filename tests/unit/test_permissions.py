"""The permission table: the README shows it, the app serves exactly its routes."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from inbox.model import Role, User
from inbox.permissions import ROUTES, allowed, markdown_table, route_permission, start_page
from web.guards import check_routes

README = Path(__file__).parents[2] / "README.md"


def user(role: str) -> User:
    return User(id="u1", email=f"{role}@example.com", role=role, password_hash="-")


def test_readme_roles_table_is_the_permission_table() -> None:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- roles:start -->")[1].split("<!-- roles:end -->")[0]
    assert block.strip() == markdown_table()


def test_marketing_searches_only() -> None:
    marketing = user(Role.MARKETING)
    can = {r.path for r in ROUTES if allowed(marketing, r.permission)}
    assert {"/search", "/voc", "/api/search", "/api/search/export.csv", "/api/voc"} <= can
    assert not can & {"/reports", "/api/reports/sla", "/inbox", "/conversations/{id}",
                      "/api/conversations", "/api/events", "/api/dead-letters"}


@pytest.mark.parametrize(("role", "page"), [
    (Role.AGENT, "/inbox"), (Role.MANAGER, "/inbox"), (Role.ADMIN, "/inbox"),
    (Role.MARKETING, "/voc"), (None, "/login")])
def test_start_page_is_one_the_role_may_open(role: str | None, page: str) -> None:
    who = None if role is None else user(role)
    assert start_page(who) == page
    permission = route_permission("GET", page)
    assert permission is not None and allowed(who, permission)


def test_head_needs_what_get_needs_and_unknown_routes_need_the_impossible() -> None:
    assert route_permission("HEAD", "/reports") == route_permission("GET", "/reports")
    assert route_permission("DELETE", "/reports") is None


async def nothing(request: web.Request) -> web.Response:
    return web.Response()


def test_an_app_with_a_route_missing_from_the_table_does_not_start() -> None:
    app = web.Application()
    for r in ROUTES:
        app.router.add_route(r.method, r.path, nothing)
    check_routes(app)
    app.router.add_get("/secret-admin-page", nothing)
    with pytest.raises(RuntimeError, match="secret-admin-page"):
        check_routes(app)
