"""A pytest plugin that keeps every mail the tests parse, for bench.email_parse_compare.

    CAPTURE_MAIL=/tmp/mail python -m pytest tests/unit/test_email_parse.py -p bench.capture_mail
    python -m bench.email_parse_compare OLD_TREE --also /tmp/mail

Each raw message connectors.email_parse.parse_message parses (whoever calls it, by
whatever name) is written once to $CAPTURE_MAIL/<sha256>.eml.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors import email_parse


@pytest.fixture(autouse=True)
def _capture_mail(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    target = Path(os.environ["CAPTURE_MAIL"])
    target.mkdir(parents=True, exist_ok=True)
    parse = email_parse.bounded_parse  # what parse_message calls with the raw bytes

    def keeping(raw: bytes, *args: Any) -> Any:
        (target / f"{hashlib.sha256(raw).hexdigest()}.eml").write_bytes(raw)
        return parse(raw, *args)

    monkeypatch.setattr(email_parse, "bounded_parse", keeping)
    yield
