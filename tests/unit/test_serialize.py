"""The API's JSON (web.serialize.to_json, written by orjson) is the document the recursive
walk `plain` + json.dumps wrote before: the same keys, ISO timestamps, nulls and text."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from inbox.model import (
    Attachment,
    Channel,
    Conversation,
    Customer,
    Delivery,
    Direction,
    Identity,
    IdentityKind,
    Message,
    Status,
    User,
)
from web.serialize import json_response, plain, to_json

WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
CONVERSATION = Conversation(
    id="c1", customer_id="k1", channel=Channel.EMAIL, status=Status.OPEN, created_at=WHEN,
    updated_at=WHEN + timedelta(microseconds=1234), last_message_at=WHEN,
    subject='Réclamation — 東京 😀 "quoted" \\ back\nslash', tags=("billing", "vip"),
    first_response_seconds=12.5, first_response_breached=False, version=3)
MESSAGE = Message(
    id="m1", conversation_id="c1", channel=Channel.X, external_id="42",
    direction=Direction.OUTBOUND, text="Merci\u2028beaucoup\x00!", created_at=WHEN,
    received_at=datetime(2026, 3, 1, 11, 30, tzinfo=timezone(timedelta(hours=2))),
    author_keys=("@ann",), sentiment_score=-0.25, delivery=Delivery.SENT,
    attachments=(Attachment("bill.pdf", "application/pdf", 1024),),
    meta={"thread": {"depth": 2, "ids": [1, 2]}, "flag": None})
CUSTOMER = Customer(id="k1", name=None, created_at=WHEN, identities=(
    Identity(IdentityKind.EMAIL, "ann@example.com", "k1", "Ann", created_at=WHEN),))
USER = User(id="u1", email="ann@example.com", role="admin", password_hash="$argon2id$secret",
            created_at=WHEN)


def old_json(data: Any) -> bytes:
    """What json_response wrote before orjson (but for the spaces after , and :)."""
    return json.dumps(plain(data), ensure_ascii=False, separators=(",", ":")).encode()


def test_a_conversation_page_is_the_same_json_byte_for_byte() -> None:
    page = {"conversations": [CONVERSATION, CONVERSATION], "next_cursor": None}
    assert to_json(page) == old_json(page)
    text = to_json(page).decode()
    assert '"created_at":"2026-03-01T09:30:00+00:00"' in text
    assert '"updated_at":"2026-03-01T09:30:00.001234+00:00"' in text
    assert '"subject":"Réclamation — 東京 😀 \\"quoted\\" \\\\ back\\nslash"' in text
    assert '"assignee":null' in text and '"next_cursor":null' in text
    assert '"channel":"email","status":"open"' in text and '"tags":["billing","vip"]' in text


def test_a_conversation_with_its_messages_and_customer_is_the_same_json() -> None:
    view = {"conversation": CONVERSATION, "messages": (MESSAGE,), "customer": CUSTOMER,
            "timeline": [MESSAGE], "timeline_cursor": "abc"}
    assert to_json(view) == old_json(view)
    message = json.loads(to_json(view))["messages"][0]
    assert message["received_at"] == "2026-03-01T11:30:00+02:00"
    assert message["attachments"] == [{"name": "bill.pdf", "content_type": "application/pdf",
                                       "size": 1024, "ref": None}]
    assert message["text"] == "Merci\u2028beaucoup\x00!"


def test_a_users_password_hash_is_never_written() -> None:
    for data in (USER, {"users": [USER]}, [(USER,)]):
        assert b"password_hash" not in to_json(data) and b"argon2" not in to_json(data)
        assert to_json(data) == old_json(data)


def test_text_that_looks_like_a_hidden_field_is_written_as_it_is() -> None:
    sly = {"note": replace(MESSAGE, text='{"password_hash": "x"}',
                           meta={"password_hash": "a key the customer sent"}), "user": None}
    assert to_json(sly) == old_json(sly)
    note = json.loads(to_json(sly))["note"]
    assert note["text"] == '{"password_hash": "x"}'
    assert note["meta"] == {"password_hash": "a key the customer sent"}


def test_what_orjson_refuses_is_still_valid_json() -> None:
    odd = {"big": 2**70, "lone": "\ud800", 3: "number key", None: "as str() wrote it"}
    assert json.loads(to_json(odd)) == {"big": 2**70, "lone": "\ud800", "3": "number key",
                                        "None": "as str() wrote it"}


def test_the_response_is_utf8_json() -> None:
    response = json_response({"ok": "ü"}, status=201, headers={"X-A": "1"})
    assert response.status == 201 and response.headers["X-A"] == "1"
    assert response.content_type == "application/json" and response.charset == "utf-8"
    assert response.body == '{"ok":"ü"}'.encode()
