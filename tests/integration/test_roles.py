"""Every route as every role (and signed out) over real HTTP, from the permission table;
marketing sees inbound customer text only, without contacts."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inbox.model import IdentityRef, Role
from inbox.permissions import PUBLIC, ROLE_PERMISSIONS, ROUTES, Route
from tests.factories import inbound
from tests.integration.web_support import (
    CUSTOMER_EMAIL,
    CUSTOMER_PHONE,
    NOTE_TEXT,
    REPLY_TEXT,
    RoleWeb,
    start_web,
)

pytestmark = pytest.mark.integration

ROLES: tuple[str | None, ...] = (None, *Role)


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=f"{tmp_path}/inbox.db"):
        yield w


async def with_incident(w: RoleWeb) -> None:
    """An incident with the conversation linked and an update sent (its ids in w.ids)."""
    admin = await w.runtime.accounts.user("admin@example.com")
    incidents = w.runtime.incidents
    outage = await incidents.create(admin, "Outage", "")
    await incidents.link(w.ids["conversation"], admin, outage["id"])
    sent = await incidents.send_update(admin, outage["id"], "We are on it.")
    await incidents.wait(sent["id"])
    w.ids.update(incident=outage["id"], update=sent["id"])


def concrete(route: Route, ids: dict[str, str]) -> str:
    """The route's path with real ids (invalid bodies keep POSTs from changing much)."""
    if route.path == "/static/{name}":
        return "/static/app.css"
    owner = "customer" if "customers/" in route.path else \
        "incident" if "incidents/" in route.path else "conversation"
    return (route.path.replace("{id}", ids[owner]).replace("{update}", ids["update"])
            .replace("{conversation}", ids["conversation"]).replace("{action}", "note")
            .replace("{merge}", "no-such-merge").replace("{message}", ids["message"])
            .replace("{index}", "0").replace("{slug}", "contact")
            .replace("{kind}", "ack").replace("{channel}", "email").replace("{lang}", "en"))


def expected(route: Route, role: str | None, status: int, location: str) -> str | None:
    """What is wrong with `status` for this route and role, or None."""
    if status >= 500:
        return "server error"
    if route.permission == PUBLIC:
        return "refused a public route" if status == 403 else None
    if role is None:
        if route.path.startswith("/api/"):
            return None if status == 401 else "signed out: want 401"
        return None if status == 303 and location.startswith("/login") else "want sign-in"
    if route.permission not in ROLE_PERMISSIONS[role]:
        return None if status == 403 else "want 403"
    if status in (401, 403):
        return "refused an allowed route"
    found = status == 200 or 300 <= status < 400 or (status == 404 and "{message}" in route.path)
    if route.method == "GET" and not found:  # the seeded message has no attachment
        return "want 200 or a redirect"
    return None


async def test_every_route_as_every_role_matches_the_permission_table(web: RoleWeb) -> None:
    await with_incident(web)
    wrong = []
    for route in ROUTES:
        for role in ROLES:
            async with web.client.request(
                    route.method, concrete(route, web.ids), headers=web.auth(role),
                    json={} if route.method == "POST" else None,
                    allow_redirects=False) as resp:
                problem = expected(route, role, resp.status, resp.headers.get("Location", ""))
            if problem:
                wrong.append(f"{route.method} {route.path} as {role}: {resp.status} ({problem})")
    assert wrong == []


@pytest.mark.parametrize("role", list(Role))
async def test_no_link_a_role_is_shown_is_refused(web: RoleWeb, role: str) -> None:
    """Sign in, follow every local link of the start page and the pages its nav opens."""
    await web.sign_in(role)
    resp = await web.client.get("/", allow_redirects=False)
    start = resp.headers["Location"]
    seen, queue, refused = set(), [start], []
    for depth in range(2):
        next_queue = []
        for url in queue:
            if url in seen or len(seen) > 80:
                continue
            seen.add(url)
            async with web.client.get(url, allow_redirects=False) as page:
                if page.status in (401, 403) or page.status >= 500:
                    refused.append(f"{url}: {page.status}")
                if depth == 0 and "text/html" in page.headers.get("Content-Type", ""):
                    body = await page.text()
                    next_queue += [html.unescape(u) for u in
                                   re.findall(r'(?:href|src)="(/[^"]*)"', body)]
        queue = next_queue
    assert refused == []
    assert len(seen) > 3


def leaks(text: str) -> list[str]:
    found = [s for s in (NOTE_TEXT, REPLY_TEXT, CUSTOMER_EMAIL, "555 0134", "5550134")
             if s in text]
    return found + re.findall(r"ann[\w.]*@example\.com", text)


@pytest.mark.parametrize("path", ["/api/search?q=", "/api/search?q=bill&facets=channel,lang",
                                  "/search?q=", "/voc?q=", "/api/voc?q=bill",
                                  "/api/search/export.csv?q="])
async def test_marketing_sees_inbound_customer_text_without_contacts(web: RoleWeb,
                                                                    path: str) -> None:
    resp = await web.client.get(path, headers=web.auth(Role.MARKETING))
    assert resp.status == 200
    text = await resp.text()
    assert "My bill is wrong" in text  # the customer's words are there...
    assert leaks(text) == []  # ...without notes, replies, addresses or numbers
    assert "[email hidden]" in text and "[phone hidden]" in text
    if path.startswith("/api/search?"):
        body = await resp.json()
        assert body["total"] == 1 and [m["direction"] for m in body["messages"]] == ["inbound"]
        assert all(m["author_keys"] == [] and m["html"] is None for m in body["messages"])
    if path.endswith(".csv?q="):
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) == 2 and rows[1][2] == "inbound"


async def test_every_role_counts_the_customers_voice_only(web: RoleWeb) -> None:
    """The VoC of the one customer message, its reply and its note counts the message for
    every role; the search (the agents' tool) still finds all three."""
    for role in (Role.MARKETING, Role.AGENT, Role.MANAGER):
        voc = await (await web.client.get("/api/voc", headers=web.auth(role))).json()
        assert voc["total"] == 1 and sum(n for _, n in voc["volume"]) == 1
        assert voc["facets"]["channel"] == [["email", 1]]
    agent = await (await web.client.get("/api/search", headers=web.auth(Role.AGENT))).json()
    assert agent["total"] == 3
    team = await (await web.client.get("/api/voc?team=1", headers=web.auth(Role.MANAGER))
                  ).json()
    assert team["total"] == 2  # the reply too, never the note


async def test_marketing_may_not_look_customers_up_by_address(web: RoleWeb) -> None:
    resp = await web.client.get("/api/search", params={"q": f"bill from:{CUSTOMER_EMAIL}"},
                                headers=web.auth(Role.MARKETING))
    assert resp.status == 400
    body = await resp.json()
    assert body["position"] == 5 and "from:" in body["problem"]


async def test_the_care_team_sees_everything(web: RoleWeb) -> None:
    text = await (await web.client.get("/api/search/export.csv",
                                       headers=web.auth(Role.AGENT))).text()
    assert CUSTOMER_EMAIL in text and NOTE_TEXT in text and REPLY_TEXT in text


async def test_an_admin_can_let_marketing_see_contacts(tmp_path: Path) -> None:
    async for web in start_web(db=f"{tmp_path}/inbox.db",
                               env={"INBOX_MARKETING_CONTACTS": "true"}):
        text = await (await web.client.get("/api/search/export.csv",
                                           headers=web.auth(Role.MARKETING))).text()
        assert CUSTOMER_EMAIL in text and CUSTOMER_PHONE in text
        assert NOTE_TEXT not in text and REPLY_TEXT not in text


async def test_direction_searches_notes_replies_and_customer_messages(web: RoleWeb) -> None:
    for direction, words in (("note", NOTE_TEXT), ("outbound", REPLY_TEXT),
                             ("inbound", "My bill is wrong")):
        body = await (await web.client.get("/api/search", params={"q": f"direction:{direction}"},
                                           headers=web.auth(Role.AGENT))).json()
        assert [m["text"][:len(words)] for m in body["messages"]] == [words]


# What a red team got past the first redaction, as customers wrote it.
HIDDEN_CONTACT = "florentine.quixote@privatebox.example"
VARIANTS = ("07700 900144", "07911 123456", "06 12 34 56 78", "0151 23456789",
            "+44 7700 900461", "2 0 2 5 5 5 0 1 9 9", "olga＠example.org", "olga @ example.org",
            "olga@example。org", "2025550187")
ORDER_REFS = ("NW11556911", "CAS-852094")
QUOTED_REPLY = "Hi Fatima, we refunded the router"


async def seed_red_team(web: RoleWeb) -> None:
    """Three customers' router complaints with a hidden contact, one with every disguised
    contact and two order references, one quoting an agent's reply."""
    items = [inbound(f"<r{i}@example.com>", f"router dead {i}, write {HIDDEN_CONTACT} or call "
                     f"2025550187", authors=(IdentityRef("email", f"r{i}@example.com"),),
                     subject=f"router for {HIDDEN_CONTACT}") for i in range(3)]
    items.append(inbound("<v@example.com>", "variants: " + "; ".join(VARIANTS) + " orders "
                         + " ".join(ORDER_REFS), authors=(IdentityRef("email", "v@example.com"),)))
    items.append(inbound(
        "<q@example.com>", "Still broken", authors=(IdentityRef("email", "q@example.com"),),
        quoted=f"On Mon, 30 Nov 2026, Support <help@northwind.example> wrote:\n> {QUOTED_REPLY}",
        html=f"<p>Still broken</p><blockquote>{QUOTED_REPLY}</blockquote>"))
    result = await web.runtime.ingest(items)
    assert len(result.stored) == len(items)


async def _total(web: RoleWeb, role: str, query: str) -> int:
    resp = await web.client.get("/api/search", params={"q": query}, headers=web.auth(role))
    assert resp.status == 200, await resp.text()
    return int((await resp.json())["total"])


@pytest.mark.parametrize("query", ["flor*", "quixote", "2025550187", "privatebox",
                                   "florentine quixote privatebox", '"quixote privatebox"',
                                   "202*", "olga", "router flor*"])
async def test_search_is_no_oracle_for_hidden_contacts(any_web: RoleWeb, query: str) -> None:
    web = any_web
    await seed_red_team(web)
    assert await _total(web, Role.AGENT, query) > 0
    assert await _total(web, Role.MARKETING, query) == 0
    voc = await (await web.client.get("/api/voc", params={"q": query},
                                      headers=web.auth(Role.MARKETING))).json()
    assert voc["total"] == 0 and sum(n for _, n in voc["volume"]) == 0
    csv_text = await (await web.client.get("/api/search/export.csv", params={"q": query},
                                           headers=web.auth(Role.MARKETING))).text()
    assert len(list(csv.reader(io.StringIO(csv_text)))) == 1  # the header only


async def test_marketing_still_finds_the_words_around_contacts(web: RoleWeb) -> None:
    await seed_red_team(web)
    assert await _total(web, Role.MARKETING, "router") == 3
    assert await _total(web, Role.MARKETING, "NW11556911") == 1


async def test_trending_words_never_show_a_hidden_contact(any_web: RoleWeb) -> None:
    web = any_web
    await seed_red_team(web)
    for role in (Role.MARKETING, Role.AGENT):
        voc = await (await web.client.get("/api/voc", params={"q": "channel:email"},
                                          headers=web.auth(role))).json()
        words = {w for t in voc["trending"] for w in t["term"].split()}
        assert "router" in words or role == Role.AGENT  # the agent's match set is everything
        assert words & {"florentine", "quixote", "privatebox", "2025550187", "olga"} == set()


async def test_only_managers_may_include_the_teams_replies(web: RoleWeb) -> None:
    """?team=1 (QA): managers and admins get the replies counted too; marketing and agents
    a clear 403 on the API and, on the page, the customers' voice without the option."""
    for role in Role:
        allowed = role in (Role.MANAGER, Role.ADMIN)
        for path in ("/api/voc?team=1", "/api/voc/export.csv?team=1",
                     "/voc/volume.svg?team=1"):
            resp = await web.client.get(path, headers=web.auth(role))
            assert resp.status == (200 if allowed else 403), (role, path)
            if not allowed:
                assert "only managers" in await resp.text()
        page = await web.client.get("/voc?team=1", headers=web.auth(role))
        text = await page.text()
        assert page.status == 200
        assert ('name="team"' in text) is allowed, role
        assert ("Only managers can include" in text) is not allowed
    voc = await (await web.client.get("/api/voc", headers=web.auth(Role.MANAGER))).json()
    team = await (await web.client.get("/api/voc?team=1",
                                       headers=web.auth(Role.MANAGER))).json()
    assert {m["direction"] for m in voc["messages"]} == {"inbound"}
    assert team["total"] > voc["total"] and team["team"] is True
    assert "outbound" in {m["direction"] for m in team["messages"]}
    assert "note" not in {m["direction"] for m in team["messages"]}
    bad = await web.client.get("/api/voc?team=yes", headers=web.auth(Role.MANAGER))
    assert bad.status == 400


@pytest.mark.parametrize("path", ["/api/search?q=", "/search?q=", "/voc?q=variants",
                                  "/api/voc?q=variants", "/api/search/export.csv?q=",
                                  "/api/voc/export.csv?q="])
async def test_every_disguised_contact_is_hidden_and_order_references_stay(
        web: RoleWeb, path: str) -> None:
    await seed_red_team(web)
    text = html.unescape(await (await web.client.get(path, headers=web.auth(Role.MARKETING)))
                         .text())
    assert [v for v in (*VARIANTS, HIDDEN_CONTACT, "privatebox") if v in text] == []
    assert all(ref in text for ref in ORDER_REFS)
    assert "[phone hidden]" in text and "[email hidden]" in text


@pytest.mark.parametrize("contacts", [False, True])
async def test_marketing_never_gets_the_agents_replies_customers_quote(
        tmp_path: Path, contacts: bool) -> None:
    env = {"INBOX_MARKETING_CONTACTS": str(contacts).lower()}
    async for web in start_web(db=f"{tmp_path}/inbox.db", env=env):
        await seed_red_team(web)
        for path in ("/api/search?q=broken", "/search?q=broken", "/voc?q=broken",
                     "/api/search/export.csv?q=broken"):
            resp = await web.client.get(path, headers=web.auth(Role.MARKETING))
            text = html.unescape((await resp.text()).replace("<mark>", "")
                                 .replace("</mark>", ""))  # the VoC marks the hits
            assert "Still broken" in text and QUOTED_REPLY not in text, path
        body = await (await web.client.get("/api/search", params={"q": "broken"},
                                           headers=web.auth(Role.MARKETING))).json()
        assert [(m["quoted"], m["html"]) for m in body["messages"]] == [(None, None)]
        agent = await (await web.client.get("/api/search", params={"q": "broken"},
                                            headers=web.auth(Role.AGENT))).json()
        assert QUOTED_REPLY in agent["messages"][0]["quoted"]
