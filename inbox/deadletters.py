"""Dead letters: what could not be parsed or stored, kept raw with its stage and error.

Each dead letter is one document in the dead_letters collection (time-sortable key). Counts
per source and stage are kept beside them in dead_letter_counts (one per source), so a
status page never reads the letters themselves.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from typing import Any

from inbox.collections import DeadLetterCountDoc, DeadLetterDoc, HasDeadLetters
from inbox.model import Inbound, new_id, utcnow

log = logging.getLogger(__name__)
MAX_RAW = 1_000_000  # characters of the raw item kept
MAX_ERROR = 2_000


def storable(text: str) -> str:
    """Text any store holds: lone surrogates and NUL written as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\0", "\\x00")


def inbound_json(item: Inbound) -> str:
    """The raw form of an item that has no raw bytes: its fields as JSON (ASCII)."""
    try:
        return json.dumps(asdict(item), default=str, ensure_ascii=True)
    except (ValueError, TypeError, RecursionError):  # a meta that JSON cannot hold
        return repr(item)[:MAX_RAW]


async def record(store: HasDeadLetters, source: str, stage: str, error: str, raw: bytes | str,
                 external_id: str | None = None) -> str:
    """Keep one dead letter and count it; returns its key. The same raw item from the same
    source (a mailbox read again after a UIDVALIDITY reset) is kept once."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    key = new_id("d")
    data = raw if isinstance(raw, bytes) else text.encode("utf-8", "surrogatepass")
    seen = "dead:" + hashlib.sha256(source.encode("utf-8", "surrogatepass") + b"\0" + data
                                    ).hexdigest()
    if not await store.idempotency.put_new(seen, {"key": key}):
        earlier = await store.idempotency.get(seen)
        log.info("dead letter already kept", extra={"source": source, "stage": stage})
        return str((earlier or {}).get("key", key))
    doc: DeadLetterDoc = {
        "source": storable(source), "stage": stage, "error": storable(error[:MAX_ERROR]),
        "at": utcnow().isoformat(), "raw": storable(text[:MAX_RAW]),
        "truncated": len(text) > MAX_RAW}
    if external_id is not None:
        doc["external_id"] = storable(external_id[:1000])
    await store.dead_letters.put(key, doc)
    await _count(store, doc["source"], stage, doc["at"], doc["error"])
    log.warning("dead letter", extra={"source": source, "stage": stage, "error": error[:500]})
    return key


async def _count(store: HasDeadLetters, source: str, stage: str, at: str, error: str) -> None:
    for _ in range(20):  # compare and swap: several processes may count at once
        old = await store.dead_letter_counts.get(source)
        stages = dict(old["stages"]) if old else {}
        stages[stage] = int(stages.get(stage, 0)) + 1
        new: DeadLetterCountDoc = {"total": (old["total"] if old else 0) + 1, "stages": stages,
                                   "last_at": at, "last_error": error[:500]}
        if await store.dead_letter_counts.swap(source, old, new):
            return
    log.warning("dead letter not counted (busy)", extra={"source": source})


async def counts(store: HasDeadLetters) -> dict[str, dict[str, Any]]:
    """Per source: {"total": n, "stages": {stage: n}, "last_at", "last_error"}."""
    found: dict[str, dict[str, Any]] = {}
    after: str | None = None
    while True:
        page = await store.dead_letter_counts.list(after, 200)
        found.update((source, dict(doc)) for source, doc in page)
        if len(page) < 200:
            return found
        after = page[-1][0]


def total(found: dict[str, dict[str, Any]]) -> int:
    return sum(int(c.get("total", 0)) for c in found.values())
