"""The agent workspace in headless Chromium: keyboard-only triage, live updates over SSE
(also across a server restart), ARIA roles, and a 390 px phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from inbox import auth
from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from inbox.model import ConversationFilter, Event, IdentityRef, Status
from tests.factories import CHEAP_ARGON2, inbound
from tests.servers.smtp import SmtpServer, smtp_server_fixture  # noqa: F401 - fixture
from web.app import create_app

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).parent.parent / "artifacts"
AGENT, PASSWORD = "ava@example.com", "correct horse battery"
# Focus is somewhere a keyboard user sees it: never lost to <body>, always visibly marked.
FOCUS_SHOWN = ("() => { const a = document.activeElement; return !!a && a !== document.body"
               " && a.matches(':focus-visible'); }")


class Served:
    """The app over one SQLite file on one port, stopped and started again like a server."""

    def __init__(self, tmp_path: Path, smtp_url: str) -> None:
        self.db = tmp_path / "inbox.db"
        self.smtp_url = smtp_url  # replies go out by email, to a real SMTP server
        self.port = 0
        self.runtime: Runtime | None = None
        self.server: TestServer | None = None

    async def open_store(self) -> Runtime:
        env = {"INBOX_STORE": f"sqlite:///{self.db}", "INBOX_ENRICH": "false",
               "INBOX_SMTP_URL": self.smtp_url, "INBOX_EMAIL_FROM": "support@example.test",
               **CHEAP_ARGON2}
        self.runtime = Runtime(load_config(None, env), env)
        await self.runtime.start()
        return self.runtime

    async def listen(self) -> None:
        assert self.runtime
        self.server = TestServer(create_app(self.runtime.web_context()), host="127.0.0.1",
                                 port=self.port)
        await self.server.start_server()
        self.port = self.server.port or 0

    async def stop(self) -> None:
        if self.server:
            await self.server.close()
        if self.runtime:
            await self.runtime.aclose()
        self.server = self.runtime = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def served(tmp_path: Path, smtp_server: SmtpServer) -> AsyncIterator[Served]:
    s = Served(tmp_path, smtp_server.url())
    runtime = await s.open_store()
    await auth.add_user(runtime.store, AGENT, "agent", PASSWORD, passwords=runtime.passwords)
    await s.listen()
    try:
        yield s
    finally:
        await s.stop()


async def signed_in(chromium: Any, served: Served, width: int = 1280) -> Any:
    page = await chromium.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(10_000)
    await page.goto(f"{served.url}/login")
    await page.fill("input[name=email]", AGENT)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button:has-text('Sign in')")
    await page.wait_for_selector("#queue-list")
    await page.evaluate("window.sameDocument = true")  # gone after any full page load
    return page


async def seed(runtime: Runtime, count: int) -> None:
    await runtime.ingest([inbound(f"<m{n}@example.com>", f"Problem number {n}",
                                  subject=f"Problem {n:02d}",
                                  thread_keys=(f"mid:<m{n}@example.com>",),
                                  authors=(IdentityRef("email", f"c{n}@example.com"),))
                          for n in range(count)])


async def post_contact_form(served: Served, name: str, message: str) -> None:
    """A customer's browser (another client) sends the public contact form."""
    async with aiohttp.ClientSession() as other:
        resp = await other.post(f"{served.url}/forms/contact", data={
            "name": name, "email": f"{name.split()[0].lower()}@example.org",
            "message": message})
        assert resp.status == 200, await resp.text()


async def open_conversations(runtime: Runtime) -> list[Any]:
    page = await runtime.conversations.page(ConversationFilter(), None, 100)
    return list(page.items)


async def test_keyboard_only_triage_of_20_conversations(served: Served, chromium: Any) -> None:
    assert served.runtime
    await seed(served.runtime, 20)
    page = await signed_in(chromium, served)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "workspace-inbox-1280.png"))
    rows = page.locator("#queue-list [role=row][data-id]")
    assert await page.get_attribute("#queue-list", "role") == "grid"
    assert await rows.count() == 20
    assert await rows.nth(0).get_attribute("aria-selected") == "true"
    assert await page.locator("#live-news[aria-live=polite]").count() == 1

    await page.keyboard.press("?")  # the list of shortcuts, and back
    assert await page.locator("dialog#shortcuts").is_visible()
    await page.keyboard.press("Escape")
    assert not await page.locator("dialog#shortcuts").is_visible()

    await page.keyboard.press("j")  # into the queue, then down and up again
    await page.keyboard.press("j")
    assert await rows.nth(1).get_attribute("aria-selected") == "true"
    assert await rows.nth(0).get_attribute("aria-selected") == "false"
    await page.keyboard.press("k")
    assert await page.evaluate(FOCUS_SHOWN)
    first = await rows.nth(0).get_attribute("data-id")
    await page.keyboard.press("Enter")
    await page.wait_for_selector(f"#conversation[data-conversation='{first}']")
    assert page.url.endswith(f"/conversations/{first}")
    await page.screenshot(path=str(ARTIFACTS / "workspace-conversation-1280.png"))

    await page.keyboard.press("r")  # the reply box; typing there is no shortcut
    assert await page.evaluate("document.activeElement.name") == "text"
    await page.keyboard.type("je")
    assert await page.input_value("form.reply textarea") == "je"
    await page.keyboard.press("Backspace")
    await page.keyboard.press("Backspace")
    await page.keyboard.press("Escape")  # out of the reply box, focus still shown
    assert await page.evaluate(FOCUS_SHOWN)
    await page.keyboard.press("j")  # back in the queue, at the open conversation
    assert await page.evaluate("document.activeElement.dataset.id") == first

    for n in range(20):
        opened = await page.get_attribute("#conversation", "data-conversation")
        await page.keyboard.press("a")
        await page.wait_for_function(
            "() => document.getElementById('live-news').textContent === 'Assigned to you.'")
        assert await page.evaluate(FOCUS_SHOWN), f"focus lost after assigning #{n}"
        await page.keyboard.press("e")
        if n < 19:  # the next conversation opens
            await page.wait_for_function(
                "id => { const c = document.getElementById('conversation');"
                " return c && c.dataset.conversation && c.dataset.conversation !== id; }",
                arg=opened)
        else:
            await page.wait_for_selector(".pane-empty")
        await page.wait_for_function(
            "id => !document.getElementById('row-' + id)", arg=opened)
        assert await page.evaluate(FOCUS_SHOWN), f"focus lost after resolving #{n}"

    assert await page.evaluate("window.sameDocument") is True  # never a full page load
    assert "Nothing here" in await page.inner_text("#queue-list")
    convs = await open_conversations(served.runtime)
    me = await auth.get_user(served.runtime.store, AGENT)
    assert me and len(convs) == 20
    assert all(c.status == Status.RESOLVED and c.assignee == me.id for c in convs)


async def test_a_web_form_post_appears_in_the_open_queue(served: Served, chromium: Any) -> None:
    assert served.runtime
    await seed(served.runtime, 2)
    page = await signed_in(chromium, served)
    await post_contact_form(served, "Nia Customer", "My parcel never came")
    row = page.locator("#queue-list [role=row]", has_text="Nia Customer")
    await row.wait_for()
    await page.wait_for_function(
        "() => document.getElementById('live-news').textContent.includes('New conversation')")
    assert "Nia Customer" in await page.inner_text("#live-news")
    assert await page.locator("#queue-list [role=row][data-id]").count() == 3
    assert await page.evaluate("window.sameDocument") is True


async def test_a_reconnect_after_a_restart_misses_nothing(served: Served, chromium: Any) -> None:
    assert served.runtime
    await seed(served.runtime, 1)
    page = await signed_in(chromium, served)
    await served.stop()  # the server goes away with the open page ...
    runtime = await served.open_store()
    await runtime.forms.submit("contact", {  # ... a customer writes meanwhile ...
        "name": "Omar While-Down", "email": "omar@example.org", "message": "Anyone there?"})
    await served.listen()  # ... and it is back on the same port and store
    await page.locator("#queue-list [role=row]", has_text="Omar While-Down").wait_for()
    await post_contact_form(served, "Pia After", "And now?")  # live again after the resync
    await page.locator("#queue-list [role=row]", has_text="Pia After").wait_for()
    assert await page.evaluate("window.sameDocument") is True


async def test_the_workspace_fits_a_phone(served: Served, chromium: Any) -> None:
    assert served.runtime
    await seed(served.runtime, 3)
    page = await signed_in(chromium, served, width=390)
    fits = "document.scrollingElement.scrollWidth <= 390"
    assert await page.evaluate(fits)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "workspace-inbox-390.png"), full_page=True)
    await page.click("#queue-list [role=row][data-id] >> nth=0")
    await page.wait_for_selector("#conversation[data-conversation]")
    assert not await page.locator("#queue").is_visible()  # one pane at a time
    assert await page.evaluate(fits)
    await page.screenshot(path=str(ARTIFACTS / "workspace-conversation-390.png"), full_page=True)
    await page.emulate_media(color_scheme="dark")  # dark mode follows the system
    assert await page.evaluate("getComputedStyle(document.body).backgroundColor") != \
        "rgb(246, 247, 250)"
    await page.screenshot(path=str(ARTIFACTS / "workspace-conversation-390-dark.png"))
    await page.keyboard.press("Escape")  # back to the queue
    await page.wait_for_selector("#queue", state="visible")
    assert await page.evaluate(FOCUS_SHOWN)


async def test_the_open_conversation_acts_and_updates_in_place(served: Served,
                                                              chromium: Any) -> None:
    assert served.runtime
    await seed(served.runtime, 2)
    page = await signed_in(chromium, served)
    await page.keyboard.press("j")
    opened = await page.evaluate("document.activeElement.dataset.id")
    await page.keyboard.press("Enter")
    await page.wait_for_selector(f"#conversation[data-conversation='{opened}']")
    await page.keyboard.press("n")  # a note through the page's own form, keyboard only
    await page.keyboard.type("Called the customer back")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#messages .msg-note")
    assert "Note added." in await page.inner_text("#pane-main .flash")
    assert await page.evaluate(FOCUS_SHOWN)
    await page.evaluate(  # a token gone stale (signed in again elsewhere): refused, said why
        "document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'stale')")
    await page.keyboard.press("Escape")  # out of the note box it stayed in, then n again
    await page.keyboard.press("n")
    await page.keyboard.type("Second note")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    problem = page.locator("#pane-main .composer-status", has_text="CSRF")
    await problem.wait_for()
    assert await page.evaluate(FOCUS_SHOWN)
    assert await page.input_value("form.note textarea") == "Second note"  # kept

    by_id = {c.id: c for c in await open_conversations(served.runtime)}  # it writes again
    parent = "<m0@example.com>" if by_id[opened].subject == "Problem 00" else "<m1@example.com>"
    await served.runtime.ingest([inbound("<again@example.com>", "Any news on this?",
                                         parent_keys=(f"mid:{parent}",),
                                         authors=(IdentityRef("email", "x@example.com"),))])
    await page.locator("#messages .msg", has_text="Any news on this?").wait_for()
    await page.wait_for_function(
        "() => document.getElementById('live-news').textContent.includes('this conversation')")
    assert await page.evaluate("window.sameDocument") is True


async def test_bulk_assign_and_resolve_a_selection(served: Served, chromium: Any) -> None:
    assert served.runtime
    await seed(served.runtime, 5)
    page = await signed_in(chromium, served)
    for key in ("j", "x", "j", "j", "x", "j", "x"):  # rows 1, 3 and 4 of 5
        await page.keyboard.press(key)
    assert "3 conversations selected" in await page.inner_text("#bulk")
    chosen = await page.eval_on_selector_all(
        "#queue-list [role=row]:has(input:checked)", "rows => rows.map(r => r.dataset.id)")
    await page.keyboard.press("Shift+Tab")  # from the queue back to the bar: Resolve
    await page.keyboard.press("Shift+Tab")  # Assign to me
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        "() => document.getElementById('live-news').textContent.startsWith('Assigned to you: 3')")
    await page.wait_for_selector("#bulk", state="hidden")
    assert await page.evaluate(FOCUS_SHOWN)
    me = await auth.get_user(served.runtime.store, AGENT)
    convs = {c.id: c for c in await open_conversations(served.runtime)}
    assert me and {i for i, c in convs.items() if c.assignee == me.id} == set(chosen)

    await page.keyboard.press("x")  # the current row alone, resolved
    current = await page.evaluate("document.activeElement.dataset.id")
    await page.click("button[data-bulk=resolve]")
    await page.wait_for_function(
        "() => document.getElementById('live-news').textContent.startsWith('Resolved: 1')")
    await page.wait_for_function("id => !document.getElementById('row-' + id)", arg=current)
    assert await page.locator("#queue-list [role=row][data-id]").count() == 4
    assert await page.evaluate("window.sameDocument") is True


async def test_the_queue_shows_who_else_is_on_a_conversation(served: Served,
                                                            chromium: Any) -> None:
    assert served.runtime
    await seed(served.runtime, 2)
    page = await signed_in(chromium, served)
    conv = await page.get_attribute("#queue-list [role=row][data-id] >> nth=1", "data-id")
    served.runtime.events.publish(Event("presence", conv, None, {"viewers": [
        {"name": "Ben", "typing": True}, {"name": AGENT, "typing": False}]}))  # not "me"
    cell = page.locator(f"#row-{conv} .qpresence")
    await page.wait_for_function(
        "id => document.querySelector('#row-' + id + ' .qpresence').textContent !== ''",
        arg=conv)
    assert await cell.inner_text() == "Ben is typing"
