"""The use cases (inbox/usecases) on a real SqliteStore: what pages, the API and the CLI
get from each, and how many store calls a reply costs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest

from connectors.webform import FormSpec, WebForms
from inbox import deadletters
from inbox.enrich import no_enrichment
from inbox.errors import NotFound, QueryError, StaleVersion, ValidationError
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import ConversationFilter, Direction, IdentityRef, Status, User, utcnow
from inbox.passwords import Passwords
from inbox.sla import SlaPolicy
from inbox.usecases.accounts import Accounts
from inbox.usecases.conversations import Conversations
from inbox.usecases.customers import Customers
from inbox.usecases.dead_letters import DeadLetters
from inbox.usecases.forms import Forms
from inbox.usecases.replies import Replies
from inbox.usecases.reports import Reports
from inbox.usecases.search import Search
from search.sqlite import SqliteStore
from tests.contract.test_races import Outbox
from tests.factories import inbound

AGENT = User("u-dana", "dana@example.com", "agent", "-", name="Dana")
MARKETING = User("u-mark", "mark@example.com", "marketing", "-", name="Mark")
ANN = (IdentityRef("email", "ann@example.com", "Ann"),)
CHEAP = Passwords(time_cost=1, memory_kib=8, parallelism=1)


class CountingStore:
    """A real SqliteStore that counts the calls made to it, by method name (calls to a typed
    collection as "collection.method")."""

    def __init__(self, store: Any, calls: Counter[str] | None = None, prefix: str = "") -> None:
        self._store, self._prefix = store, prefix
        self.calls: Counter[str] = Counter() if calls is None else calls
        self.writes: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if not callable(found):
            if hasattr(found, "put_new"):  # a typed collection: store.audit, store.changes...
                return CountingStore(found, self.calls, f"{name}.")
            return found

        def counted(*args: Any, **kwargs: Any) -> Awaitable[Any]:
            self.calls[self._prefix + name] += 1
            if name == "write":
                self.writes.append(args[0])
            result: Awaitable[Any] = found(*args, **kwargs)
            return result

        return counted


@pytest.fixture
def store(sqlite_store: SqliteStore) -> SqliteStore:
    """The use cases on SQLite (the contract suite runs the stores' rules on every store)."""
    return sqlite_store


def ingestor(store: Any) -> Ingestor:
    return Ingestor(store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus())


async def arrived(store: Any, ext: str, text: str = "my bill is wrong",
                  authors: tuple[IdentityRef, ...] = ANN) -> str:
    """A customer message, stored; its conversation id."""
    result = await ingestor(store).ingest([inbound(ext, text, authors=authors,
                                                   when=utcnow() - timedelta(minutes=5))])
    return result.stored[0].conversation_id


async def test_a_reply_reads_the_conversation_once_and_writes_it_with_the_message(
        store: SqliteStore) -> None:
    """Before the use cases a reply made 11 store calls: the conversation read twice and the
    customer's timeline read for nothing. Now: one read of the conversation, its messages
    and customer; the message, the new conversation version, its change record and the
    audit entry in one batch."""
    conv_id = await arrived(store, "<q1@x>")
    counting = CountingStore(store)
    outbox = Outbox()
    replies = Replies(Conversations(counting, EventBus()), {"email": outbox})  # type: ignore
    sent = await replies.reply(conv_id, "Fixed it", AGENT)
    assert sent.delivery == "sent" and outbox.sent == ["Fixed it"]
    calls = counting.calls
    assert calls["get_conversation"] == 1
    assert calls["customer_messages"] == 0
    together = [b for b in counting.writes if b.messages and b.conversations]
    assert len(together) == 1 and together[0].messages[0].id == sent.id
    assert {name for name, _, _ in together[0].documents} == {"changes", "audit"}
    assert not any(name.startswith(("changes.", "audit.")) for name in calls), calls
    assert sum(calls.values()) == 7, calls  # was 11, then 9
    conv = await store.get_conversation(conv_id)
    assert conv.version == 2 and conv.first_response_at is not None


async def test_a_stale_reply_is_refused_with_what_changed(store: SqliteStore) -> None:
    conv_id = await arrived(store, "<q2@x>")
    conversations = Conversations(store, EventBus())
    replies = Replies(conversations, {"email": Outbox()})
    seen = (await conversations.get(conv_id)).conversation.version
    await conversations.assign(conv_id, AGENT.id, AGENT, seen)
    with pytest.raises(StaleVersion) as stale:
        await replies.reply(conv_id, "Fixed", AGENT, expected_version=seen, confirm=False)
    assert stale.value.version == seen + 1 and stale.value.changes


async def test_every_action_leaves_its_audit_entry_and_each_version_its_record(
        store: SqliteStore) -> None:
    conv_id = await arrived(store, "<q3@x>")
    conversations = Conversations(store, EventBus())
    await Replies(conversations, {"email": Outbox()}).reply(conv_id, "Fixed", AGENT)
    await conversations.set_status(conv_id, "resolved", AGENT)
    await conversations.add_note(conv_id, "called them", AGENT)
    entries = [doc for _, doc in await store.audit.list(None, 10)]
    assert sorted((e["actor"], e["action"], e["target"]) for e in entries) == [
        (AGENT.email, "note", conv_id), (AGENT.email, "reply", conv_id),
        (AGENT.email, "status:resolved", conv_id)]
    records = [doc for _, doc in await store.changes.list(None, 10)]
    assert [(r["version"], r["action"]) for r in records] == [(2, "reply"), (3, "status")]


async def test_the_customer_page_merge_and_undo(store: SqliteStore) -> None:
    first = await arrived(store, "<a@x>")
    await arrived(store, "<b@x>", "hello from Bob", (IdentityRef("email", "bob@example.com"),))
    customers = Customers(store)
    ann = (await store.get_conversation(first)).customer_id
    merged = await customers.merge(ann, "bob@example.com", AGENT)
    page = await customers.page(ann, None, 50)
    assert {m.text for m in page.timeline} == {"my bill is wrong", "hello from Bob"}
    assert len(page.conversations) == 2 and page.merges[0]["id"] == merged.record["id"]
    await customers.undo_merge(ann, merged.record["id"], AGENT)
    page = await customers.page(ann, None, 50)
    assert [m.text for m in page.timeline] == ["my bill is wrong"]
    assert page.merges[0]["undone_at"] is not None
    with pytest.raises(NotFound):
        await customers.merge(ann, "nobody@example.com", AGENT)


async def test_search_shows_marketing_customer_messages_without_contacts(
        store: SqliteStore) -> None:
    conv_id = await arrived(store, "<s@x>", "bill: call me on +44 20 7946 0000")
    await Replies(Conversations(store, EventBus()), {"email": Outbox()}).reply(
        conv_id, "About your bill: done", AGENT)
    accounts = Accounts(store, CHEAP)
    search = Search(store, accounts)
    agent_view = await search.messages(AGENT, await search.parse("bill", AGENT), None, 10)
    assert {m.direction for m in agent_view.messages} == {Direction.INBOUND,
                                                          Direction.OUTBOUND}
    node = await search.parse("bill", MARKETING)
    shown = await search.messages(MARKETING, node, None, 10)
    assert [m.direction for m in shown.messages] == [Direction.INBOUND]
    assert "7946" not in shown.messages[0].text
    with pytest.raises(QueryError, match="from:"):
        await search.parse("from:ann@example.com", MARKETING)
    assert Search(store, accounts, marketing_contacts=True).hides_contacts(MARKETING) is False


async def test_search_resolves_assignees_by_email(store: SqliteStore) -> None:
    accounts = Accounts(store, CHEAP)
    dana = await accounts.add_user("dana@example.com", "agent", "correct horse battery 9")
    search = Search(store, accounts)
    assert search.text(await search.parse("assignee:dana@example.com", dana)) == \
        f"assignee:{dana.id}"
    assert search.text(await search.parse("assignee:me", dana)) == f"assignee:{dana.id}"
    with pytest.raises(QueryError, match="no user"):
        await search.parse("assignee:ghost@example.com", dana)


async def test_accounts_tokens_sessions_and_assignees(store: SqliteStore) -> None:
    accounts = Accounts(store, CHEAP, token_days=30)
    dana = await accounts.add_user("dana@example.com", "agent", "correct horse battery 9")
    token = await accounts.create_token("dana@example.com")
    assert (await accounts.token_user(token)).id == dana.id
    [info] = await accounts.tokens("dana@example.com")
    assert info.expires_at is not None  # the configured lifetime
    with pytest.raises(NotFound):
        await accounts.tokens("ghost@example.com")
    assert await accounts.authenticate("dana@example.com", "wrong") is None
    user = await accounts.authenticate("dana@example.com", "correct horse battery 9")
    assert user is not None
    sid = await accounts.start_session(user)
    assert (await accounts.session(sid) or (None,))[0] == user
    await accounts.end_session(sid)
    assert await accounts.session(sid) is None
    assert await accounts.user_id("me", dana) == dana.id
    assert await accounts.user_id("dana@example.com", dana) == dana.id
    assert await accounts.user_id("none", dana) is None
    with pytest.raises(ValidationError):
        await accounts.user_id("ghost@example.com", dana)


async def test_reports_list_what_breaches_next(store: SqliteStore) -> None:
    for n in range(3):
        await arrived(store, f"<r{n}@x>", authors=(IdentityRef("email", f"c{n}@example.com"),))
    reports = Reports(store, SlaPolicy())
    due = await reports.next_due(2)
    assert len(due) == 2
    assert due[0].due_at is not None and due[1].due_at is not None
    assert due[0].due_at <= due[1].due_at
    rows = await reports.sla_rows(utcnow() - timedelta(days=1), utcnow() + timedelta(days=1))
    assert rows[0].group == "all"


async def test_dead_letters_page_with_previews(store: SqliteStore) -> None:
    for n in range(3):
        await deadletters.record(store, "email:support", "parse", "bad", f"raw {n} " * 1000)
    dead = DeadLetters(store)
    rows, after = await dead.page(None, 2)
    assert len(rows) == 2 and after == rows[-1]["id"]
    assert "raw" not in rows[0] and len(rows[0]["raw_preview"]) == 2000
    rest, after = await dead.page(after, 2)
    assert len(rest) == 1 and after is None
    assert (await dead.counts())["email:support"]["total"] == 3


async def test_a_web_form_submission_gets_a_receipt(store: SqliteStore) -> None:
    forms = Forms(WebForms({"contact": FormSpec("contact")}), ingestor(store), SlaPolicy())
    with pytest.raises(NotFound):
        forms.form("nope")
    receipt = await forms.submit("contact", {"name": "Ann", "email": "ann@example.com",
                                             "message": "my bill is wrong"})
    ref = int(receipt["reference"])  # the conversation's human reference, never its id
    conv = (await store.conversations_by_refs([ref]))[ref]
    assert conv.channel == "webform" and "expected_reply_by" in receipt
    with pytest.raises(ValidationError) as bad:
        await forms.submit("contact", {"name": "Ann", "email": "not-an-address"})
    assert set(bad.value.errors) == {"email", "message"}
    dropped = await forms.submit("contact", {forms.honeypot: "http://spam"})
    assert dropped["ok"] and (await store.counts())["messages"] == 1


async def test_an_inbox_page_read_again_shows_every_change(store: SqliteStore) -> None:
    conversations = Conversations(store, EventBus())
    conv_id = await arrived(store, "x-page")
    first = (await conversations.page(ConversationFilter(), None, 50)).items[0]
    again = (await conversations.page(ConversationFilter(), None, 50)).items[0]
    assert again is first  # an unchanged row is not converted again
    await conversations.set_status(conv_id, Status.PENDING, AGENT)
    await conversations.set_tags(conv_id, ["billing"], AGENT)
    changed = (await conversations.page(ConversationFilter(), None, 50)).items[0]
    assert (changed.status, changed.tags, changed.version) == (
        Status.PENDING, ("billing",), first.version + 2)
    assert (await conversations.get(conv_id)).conversation == changed
