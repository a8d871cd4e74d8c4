"""The demo: a deterministic, valid, realistic generator at any size, and seeding a store
through the application."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from inbox.app.config import load as load_config
from inbox.app.demo import seed as seed_module
from inbox.app.demo.generator import INBOUND_PER_JOURNEY, DemoItem, generate, stream
from inbox.app.demo.identities import people
from inbox.app.demo.seed import SeedSummary, seed
from inbox.app.demo.vocabulary import BRAND_HANDLE, BRAND_X_USER_ID, DEMO_AGENTS
from inbox.app.runtime import Runtime
from inbox.identity import normalize_ref
from inbox.model import Channel, Conversation, ConversationFilter, IdentityKind, IdentityRef
from tests.factories import CHEAP_ARGON2

NOW = datetime(2026, 11, 20, 15, 30, 45, 123456, tzinfo=UTC)


@pytest.fixture(scope="module")
def items() -> list[DemoItem]:
    return generate(NOW)


def kind_of(item: DemoItem) -> str:
    inbound = item.inbound
    if inbound.listening:
        return "listening"
    if inbound.channel == Channel.X:
        return "dm" if inbound.external_id.startswith("dm:") else "mention"
    return str(inbound.channel)


def test_same_seed_same_items_other_seed_other_items(items: list[DemoItem]) -> None:
    assert generate(NOW) == items
    other = generate(NOW, seed=8)
    assert other != items
    assert [i.inbound.external_id for i in other] != [i.inbound.external_id for i in items]


def test_every_item_is_a_valid_inbound(items: list[DemoItem]) -> None:
    begin = NOW - timedelta(days=30)
    seen: set[tuple[str, str]] = set()
    kinds = {k.value for k in IdentityKind}
    for item in items:
        inbound = item.inbound
        assert inbound.channel in {c.value for c in Channel}
        assert inbound.created_at.tzinfo is not None
        assert begin <= inbound.created_at <= NOW
        assert inbound.text.strip()
        assert inbound.authors
        assert all(ref.kind in kinds and ref.value for ref in inbound.authors)
        key = (inbound.channel, inbound.external_id)
        assert key not in seen
        seen.add(key)
    times = [i.inbound.created_at for i in items]
    assert times == sorted(times)


def test_external_ids_identities_and_meta_follow_each_channel(items: list[DemoItem]) -> None:
    for item in items:
        inbound, kind = item.inbound, kind_of(item)
        refs = {ref.kind: ref for ref in inbound.authors}
        if kind == "email":
            mid = inbound.external_id
            assert mid == mid.lower() and mid.endswith("@mail.example") and "<" not in mid
            assert inbound.thread_keys == (f"mid:{mid}",)
            assert inbound.meta["message_id"] == mid and inbound.meta["to"]
            assert inbound.subject
            assert inbound.lang is None
            email = refs["email"]
            assert email.value == email.value.lower() and email.label
        elif kind == "webform":
            assert inbound.external_id.startswith("form:")
            assert inbound.meta["form"] == "contact" and inbound.meta["topic"]
            assert inbound.lang is None
            assert "email" in refs
            if "phone" in refs:
                assert refs["phone"].value.startswith("+44")
                assert refs["phone"].value[1:].isdigit()
        else:
            assert refs["x"].value.isdigit() and refs["x"].label
            assert refs["x_handle"].value == refs["x"].label.lower()
            assert inbound.meta["kind"] == ("dm" if kind == "dm" else "tweet")
            if kind == "dm":
                assert inbound.external_id.startswith("dm:")
                assert inbound.external_id[3:].isdigit()
                (key,) = inbound.thread_keys
                assert key.startswith("x:dm:") and inbound.parent_keys == (key,)
            else:
                tweet_id = inbound.external_id
                assert tweet_id.isdigit() and int(tweet_id) > 10**17
                assert len(inbound.text) <= 280
                assert inbound.lang in {"en", "es", "fr", "de"}
                meta = inbound.meta
                assert meta["tweet_id"] == tweet_id
                assert meta["url"] == f"https://x.com/{meta['username']}/status/{tweet_id}"
                conv = meta["conversation_id"]
                assert inbound.thread_keys == (f"x:tweet:{tweet_id}", f"x:conv:{conv}")
                assert meta["mentions_brand"] is (kind == "mention")
                if kind == "mention":
                    assert {"id": BRAND_X_USER_ID, "username": BRAND_HANDLE} in meta["mentions"]


def test_channel_mix_and_volume(items: list[DemoItem]) -> None:
    assert 1500 <= len(items) <= 2500
    share = {k: n / len(items) for k, n in Counter(kind_of(i) for i in items).items()}
    assert 0.32 <= share["email"] <= 0.48
    assert 0.22 <= share["mention"] <= 0.38
    assert 0.05 <= share["dm"] <= 0.15
    assert 0.09 <= share["webform"] <= 0.21
    assert share["listening"] >= 0.05


def test_customers_are_linked_across_channels(items: list[DemoItem]) -> None:
    # Union the identities that appear together on one message: each set is one customer.
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(key: tuple[str, str]) -> tuple[str, str]:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    for item in items:
        keys = [(ref.kind, ref.value) for ref in item.inbound.authors]
        for key in keys[1:]:
            parent[find(key)] = find(keys[0])
    channels: dict[tuple[str, str], set[str]] = {}
    for item in items:
        if not item.inbound.listening:
            root = find((item.inbound.authors[0].kind, item.inbound.authors[0].value))
            channels.setdefault(root, set()).add(item.inbound.channel)
    multi = [root for root, used in channels.items() if len(used) >= 2]
    assert len(multi) >= 0.2 * len(channels)
    assert any(len(used) == 3 for used in channels.values())
    # A web form links through the handle: the same x_handle value on X and on a form.
    by_handle: dict[str, set[str]] = {}
    for item in items:
        for ref in item.inbound.authors:
            if ref.kind == "x_handle":
                by_handle.setdefault(ref.value, set()).add(item.inbound.channel)
    assert any(used == {"x", "webform"} for used in by_handle.values())


def test_listening_hits_exist_and_do_not_mention_the_brand(items: list[DemoItem]) -> None:
    hits = [i for i in items if i.inbound.listening]
    assert hits
    for item in hits:
        inbound = item.inbound
        assert inbound.channel == Channel.X
        assert f"@{BRAND_HANDLE}" not in inbound.text.lower()
        assert not inbound.meta["mentions_brand"]
        assert all(m["id"] != BRAND_X_USER_ID for m in inbound.meta["mentions"])
        assert item.reply_after is None and not item.resolve and item.assignee is None


def test_follow_ups_reference_earlier_messages(items: list[DemoItem]) -> None:
    earlier: set[str] = set()
    follow_ups = Counter[str]()
    for item in items:
        inbound = item.inbound
        if inbound.parent_keys and not inbound.external_id.startswith("dm:"):
            assert all(key in earlier for key in inbound.parent_keys), inbound
            follow_ups[inbound.channel] += 1
            if inbound.channel == Channel.EMAIL and not inbound.automated:
                assert inbound.subject and inbound.subject.startswith("Re:")
                assert inbound.quoted and "wrote:" in inbound.quoted
        earlier.update(inbound.thread_keys)
    assert follow_ups["email"] > 20 and follow_ups["x"] > 20
    dm_threads = Counter(i.inbound.thread_keys[0] for i in items if kind_of(i) == "dm")
    assert any(n > 1 for n in dm_threads.values())


def test_agent_actions_give_a_realistic_mix(items: list[DemoItem]) -> None:
    agents = {email for email, _ in DEMO_AGENTS}
    care = [i for i in items if not i.inbound.listening and not i.inbound.automated]
    for item in items:
        assert (item.reply_after is None) == (item.reply_text is None)
        assert item.assignee is None or item.assignee in agents
        if item.resolve:
            assert item.reply_after is not None
        if item.reply_after is not None:
            assert item.reply_after > timedelta(0)
            assert item.inbound.created_at + item.reply_after <= NOW
        if item.inbound.automated:
            assert item.reply_after is None and not item.tags
    replied = [i for i in care if i.reply_after is not None]
    assert 0.7 <= len(replied) / len(care) <= 0.9
    delays = [i.reply_after for i in replied if i.reply_after is not None]
    assert any(d < timedelta(minutes=30) for d in delays)
    assert any(d > timedelta(days=1) for d in delays)
    assert max(delays) <= timedelta(days=3, hours=1)
    assert sum(i.resolve for i in care) > 0.3 * len(care)
    recent = [i for i in care if i.inbound.created_at > NOW - timedelta(days=2)]
    assert any(i.reply_after is None for i in recent)
    assert any(i.assignee is None for i in care)
    assert any(i.tags for i in care)


def test_text_is_varied_and_realistic(items: list[DemoItem]) -> None:
    texts = [i.inbound.text for i in items]
    assert len(set(texts)) > 0.6 * len(texts)
    langs = Counter(i.inbound.lang for i in items if kind_of(i) in ("mention", "listening"))
    assert {"es", "fr", "de"} <= set(langs) and langs["en"] > langs["es"]
    assert any(i.inbound.automated for i in items)
    assert any(len(i.inbound.text) > 1500 for i in items if kind_of(i) == "email")
    assert any(ch in i.inbound.text for i in items for ch in "😡🙌🙄👏")
    assert any(i.inbound.html for i in items)
    assert any(i.inbound.attachments for i in items)


def test_traffic_peaks_in_business_hours_and_dips_at_weekends(items: list[DemoItem]) -> None:
    local = [i.inbound.created_at.astimezone(ZoneInfo("Europe/London")) for i in items]
    office = sum(9 <= t.hour < 17 for t in local)
    night = sum(t.hour < 7 for t in local)
    assert office > 5 * night
    days = Counter(t.date() for t in local)
    weekday = [n for d, n in days.items() if d.weekday() < 5]
    weekend = [n for d, n in days.items() if d.weekday() >= 5]
    assert sum(weekend) / len(weekend) < 0.8 * sum(weekday) / len(weekday)


def test_small_runs_and_other_time_zones() -> None:
    now = datetime(2026, 3, 29, 9, 0, tzinfo=timezone(timedelta(hours=-5)))
    few = generate(now, days=1, seed=1, customers=2)
    assert few
    assert all(i.inbound.created_at <= now for i in few)
    assert len({(i.inbound.channel, i.inbound.external_id) for i in few}) == len(few)


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate(datetime(2026, 11, 20, 12, 0))


def test_identities_stay_distinct_at_200k_customers() -> None:
    """Enough distinct customers for a million-message benchmark: no identity given twice."""
    folks = list(people(200_000))
    for kind in ("email", "handle", "x_id", "phone"):
        values = [str(getattr(p, kind)).lower() for p in folks if getattr(p, kind)]
        assert len(set(values)) == len(values), kind
    phones = [p.phone for p in folks if p.phone]
    assert len(phones) > 100_000
    handles = [p.handle for p in folks]
    assert all(0 < len(h) <= 15 and h.replace("_", "").isalnum() and h.isascii()
               for h in handles)
    # Valid as the ingest reads them (a sample: the drama range, then the numbered ones).
    for p in folks[:50] + folks[-50:]:
        for ref in (IdentityRef("email", p.email), IdentityRef("x_handle", p.handle),
                    IdentityRef("x", p.x_id), *([IdentityRef("phone", p.phone)] if p.phone
                                                else [])):
            normalized = normalize_ref(ref)
            assert normalized is not None and normalized.value == ref.value.lower(), ref


def test_a_big_run_streams_in_time_order_without_repeats() -> None:
    seen: set[tuple[str, str]] = set()
    last = None
    count = 0
    for item in stream(NOW, days=10, customers=3000, journeys=6000, seed=3):
        inbound = item.inbound
        assert last is None or inbound.created_at >= last
        last = inbound.created_at
        key = (inbound.channel, inbound.external_id)
        assert key not in seen
        seen.add(key)
        count += 1
    assert 6000 * 1.7 < count < 6000 * 2.2
    assert count / 6000 == pytest.approx(INBOUND_PER_JOURNEY, rel=0.12)


@pytest.fixture
async def seeded(tmp_path: Path) -> AsyncIterator[tuple[Runtime, SeedSummary]]:
    path = tmp_path / "demo.db"
    env = {"INBOX_STORE": f"sqlite:///{path}", **CHEAP_ARGON2}
    runtime = Runtime(load_config(None, env), env, channels=False)
    await runtime.start()
    try:
        yield runtime, await seed(runtime, now=NOW)
    finally:
        await runtime.aclose()


async def test_seeding_gives_every_page_its_data(seeded: tuple[Runtime, SeedSummary]) -> None:
    runtime, summary = seeded
    store = runtime.store
    convs: list[Conversation] = []
    cursor = None
    while True:
        page = await store.list_conversations(ConversationFilter(), cursor, 500)
        convs += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert summary.conversations == len(convs) > 800
    assert 2800 <= summary.messages <= 4800  # acknowledgements and surveys included
    assert {c.channel for c in convs} == {"email", "x", "webform"}
    assert {c.status for c in convs} == {"open", "pending", "resolved", "listening"}
    states = Counter(runtime.sla.state(c, NOW) for c in convs)
    assert states["breached"] > 20 and states["at_risk"] >= 1 and states["ok"] >= 1
    answered = [c for c in convs if c.first_response_at is not None]
    assert len(answered) > 0.6 * len(convs)
    assert any(c.first_response_breached for c in answered)
    assert any(not c.first_response_breached for c in answered)
    assert all(c.resolved_at is not None for c in convs if c.status == "resolved")
    assert sum(c.previous_id is not None for c in convs) > 100
    assert sum(bool(c.switched_channel) for c in convs) > 30
    assert sum(c.assignee is not None for c in convs) > 0.5 * len(convs)
    assert any("churn-risk" in c.tags for c in convs)
    rows = await runtime.reports.sla_rows(NOW - timedelta(days=30), NOW)
    overall = next(r for r in rows if r.group == "all")
    assert 0 < overall.met < overall.answered and overall.repeat and overall.switched
    # Replies went through the service to the demo sender: sent, marked, never mailed.
    busy = max((c for c in answered if c.channel == "email"), key=lambda c: c.message_count)
    messages = await store.conversation_messages(busy.id)
    replies = [m for m in messages if m.direction == "outbound"]
    assert replies and all(m.delivery == "sent" and m.meta.get("demo") for m in replies)
    assert all(m.agent for m in replies)
    # email customers who opened a conversation were told when to expect an answer
    told = [(c, m) for c in convs if c.channel == "email"
            for m in await store.conversation_messages(c.id) if m.meta.get("auto") == "ack"]
    assert len(told) > 100 and all(m.automated and f"#{c.ref}" in m.text for c, m in told)
    english = [m for _, m in told if m.meta.get("lang") == "en"]
    assert english and all("will answer by" in m.text for m in english)
    assert all(NOW - timedelta(days=30) <= m.created_at <= NOW for m in messages)
    flagged = [c for c in convs if "churn-risk" in c.tags]
    notes = [m for c in flagged for m in await store.conversation_messages(c.id)
             if m.direction == "note"]
    assert notes and all(m.agent for m in notes)
    # Some customers wrote on X and by email with nothing in common: an agent merged them.
    merged = await store.merges.list(None, 100)
    assert merged
    survivor = await store.get_customer(merged[0][1]["survivor"])
    assert {i.kind for i in survivor.identities} >= {"email", "x"}
    sentiments = {m.sentiment for c in convs[:100]
                  for m in await store.conversation_messages(c.id)}
    assert {"negative", "positive"} <= sentiments  # VoC: enriched as in production
    # Listening: the brand's rules and two competitors', a month of hits, priorities
    rules = runtime.listening
    rules.clock = lambda: NOW  # the demo's month ends at NOW
    assert [r["group"] for r in await rules.all()] == ["Competitor A", "Competitor B", "ours",
                                                       "ours"]
    shares = {s.group: s for s in await rules.share_of_voice(30)}
    assert set(shares) == {"ours", "Competitor A", "Competitor B"}
    assert all(s.hits > 10 and 0 < s.negative < s.hits for s in shares.values())
    for rule in await rules.all():
        assert (await rules.volume(rule["id"])).month > 0, rule["name"]
    top = await rules.top_hits()
    assert len(top) == 10 and top[0].priority.level in ("high", "urgent")
    assert {c.priority for c in convs if c.status == "listening"} >= {"low", "normal"}


def test_seeding_keeps_no_copy_of_the_rules() -> None:
    """SLA clocks, first response and resolution come from the production code only."""
    package = Path(seed_module.__file__ or "").parent
    for path in package.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        for rule in ("sla.due", "first_response", "resolved(", "awaiting_since", "due_at",
                     "resolution_seconds", "WriteBatch", ".write("):
            assert rule not in source, (path.name, rule)
