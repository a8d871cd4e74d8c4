"""The hostile mail corpus through Dovecot, the real connector, ingest and the SQLite store.

Each hostile item is followed by a good mail. Every good one must arrive; every hostile one
must be stored (flagged with the limits it hit) or dead-lettered, never lost; the cursor
reaches the last UID; a second poll stores nothing twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from inbox.model import Message
from tests.data.email.hostile.corpus import MB, Item, corpus
from tests.servers.dovecot import PASSWORD, Dovecot, dovecot_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.integration
MAX_MESSAGE_BYTES = MB  # so the 3 MB item is fetched only in part


def good(n: int) -> bytes:
    return (f"From: Good Customer {n} <good{n}@example.org>\r\nTo: support@example.test\r\n"
            f"Subject: good {n}\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <good{n}@example.org>\r\n\r\nA perfectly normal question {n}.\r\n"
            ).encode()


@pytest.fixture
async def runtime(dovecot: Dovecot, tmp_path: Path, request: pytest.FixtureRequest
                  ) -> AsyncIterator[Runtime]:
    """batch_size 10 by default (parsed on a thread); a param of 16 or more: worker processes."""
    batch_size = getattr(request, "param", 10)
    env = {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false"}
    config = load_config(None, env)
    config["email"] = {"mailboxes": [{
        "name": "support", "url": dovecot.url(), "password": PASSWORD, "batch_size": batch_size,
        "attachments_dir": str(tmp_path / "attachments"),
        "max_message_bytes": MAX_MESSAGE_BYTES}]}
    rt = Runtime(config, env)
    await rt.start()
    try:
        yield rt
    finally:
        await rt.aclose()


async def stored_messages(runtime: Runtime) -> list[Message]:
    found = await runtime.store.search(None, None, 500)
    return list(found.messages)


@pytest.mark.parametrize("runtime", [10, 40], indirect=True, ids=["thread", "workers"])
async def test_hostile_mail_never_stops_the_mailbox_and_is_never_lost(
        dovecot: Dovecot, runtime: Runtime) -> None:
    items = corpus(oversized_bytes=3 * MB)
    mail: list[tuple[Item | None, bytes]] = []
    for n, item in enumerate(items):
        mail += [(item, item.raw), (None, good(n))]
    for _, raw in mail:  # one APPEND each, so the UIDs follow this order
        dovecot.append(raw)
    uidvalidity, uids = dovecot.uids()
    assert len(uids) == len(mail)
    by_uid = dict(zip(uids, mail, strict=True))

    await runtime.poll_once("email")
    messages = await stored_messages(runtime)
    dead = await runtime.store.dead_letters.list(None, 500)

    stored_uids = {m.meta["imap_uid"]: m for m in messages}
    assert len(stored_uids) == len(messages)  # nothing stored twice
    goods = [uid for uid, (item, _) in by_uid.items() if item is None]
    assert all(uid in stored_uids for uid in goods)  # every good mail arrives
    missing = {uid: item for uid, (item, _) in by_uid.items()
               if item is not None and uid not in stored_uids}
    assert len(dead) == len(missing), (sorted(i.name for i in missing.values()),
                                       [d["error"] for _, d in dead])
    must_die = {i.name for i in items if i.outcome == "dead"}
    assert must_die <= {i.name for i in missing.values()}  # others may be dead letters too
    for uid, (item, _) in by_uid.items():
        if item is not None and uid in stored_uids:
            flagged = set(stored_uids[uid].meta.get("limits", ()))
            assert item.limits <= flagged, (item.name, flagged)
    cursor = await runtime.load_cursor("email:support")
    assert cursor == {"uidvalidity": uidvalidity, "last_uid": uids[-1]}

    again = await runtime.poll_once("email")
    assert all(not result.stored for result in again.values())
    assert len(await stored_messages(runtime)) == len(messages)


def meta_of(messages: list[Message], subject: str) -> dict[str, Any]:
    (found,) = [m for m in messages if m.subject == subject]
    return dict(found.meta)


async def test_mail_sharing_a_message_id_is_all_stored_and_redelivery_is_not(
        dovecot: Dovecot, runtime: Runtime) -> None:
    here = Path(__file__).parent.parent / "data" / "email" / "hostile"
    first = (here / "shared_message_id_1.eml").read_bytes()
    second = (here / "shared_message_id_2.eml").read_bytes()
    redelivered = b"Received: from mx2.example.org by mx3.example.org\r\n" \
                  b"Delivered-To: support@example.test\r\n" + first
    dovecot.append([first, second, redelivered])

    await runtime.poll_once("email")

    messages = await stored_messages(runtime)
    assert sorted(m.subject or "" for m in messages) == ["first of two", "second of two"]
    assert meta_of(messages, "first of two")["digest"] != \
        meta_of(messages, "second of two")["digest"]


async def test_oversized_mail_is_fetched_in_part_and_flagged(
        dovecot: Dovecot, runtime: Runtime) -> None:
    (oversized,) = [i for i in corpus(oversized_bytes=3 * MB) if i.name == "oversized"]
    dovecot.append([oversized.raw, good(1)])

    await runtime.poll_once("email")

    messages = await stored_messages(runtime)
    meta = meta_of(messages, "oversized")
    assert "message_bytes" in meta["limits"] and meta["attachment_cut"] == "big.bin"
    (big,) = [m for m in messages if m.subject == "oversized"][0].attachments
    assert big.ref is None
    assert meta_of(messages, "good 1")["imap_uid"] == 2
