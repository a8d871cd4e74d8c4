"""The one fake of what the core does for a connector (a ConnectorContext), minus storage.

Ingest is idempotent on (channel, external_id) like inbox.ingest: the same revision again is a
duplicate, another revision an edit. Cursors live in a dict, dead letters in a list. Hooks let
a test fail or pause ingest and cursor saves at a chosen step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inbox.errors import StoreUnavailable
from inbox.model import Inbound, Message, message_id_for
from inbox.ports import ConnectorContext, IngestResult


def as_message(inbound: Inbound, conversation_id: str = "c1") -> Message:
    """The stored message an inbound item becomes (all in one conversation unless told)."""
    return Message(id=message_id_for(inbound.channel, inbound.external_id),
                   conversation_id=conversation_id, channel=inbound.channel,
                   external_id=inbound.external_id, direction=inbound.direction,
                   text=inbound.text, created_at=inbound.created_at,
                   received_at=inbound.created_at, revision=inbound.revision,
                   meta=inbound.meta)


@dataclass
class FakeCore:
    """Ingest, cursors and dead letters for a connector under test; ``ctx()`` hands them over."""

    messages: dict[tuple[str, str], Inbound] = field(default_factory=dict)
    batches: list[list[Inbound]] = field(default_factory=list)
    cursors: dict[str, dict[str, Any]] = field(default_factory=dict)
    cursor_saves: list[dict[str, Any]] = field(default_factory=list)
    dead: list[tuple[str, bytes | str, str]] = field(default_factory=list)
    fail_on_batch: int | None = None  # raise StoreUnavailable on this batch number (1-based)
    after_ingest: Callable[[int], Awaitable[None]] | None = None  # gets the batch count
    before_save: Callable[[int], Awaitable[None]] | None = None  # gets the saves so far

    async def ingest(self, batch: Sequence[Inbound]) -> IngestResult:
        if self.fail_on_batch == len(self.batches) + 1:
            self.fail_on_batch = None
            raise StoreUnavailable("store went away")
        self.batches.append(list(batch))
        stored, updated, duplicates = [], [], 0
        for inbound in batch:
            key = (inbound.channel, inbound.external_id)
            old = self.messages.get(key)
            if old is not None and old.revision == inbound.revision:
                duplicates += 1
                continue
            self.messages[key] = inbound
            (stored if old is None else updated).append(as_message(inbound))
        if self.after_ingest:
            await self.after_ingest(len(self.batches))
        return IngestResult(tuple(stored), tuple(updated), duplicates)

    async def load_cursor(self, name: str) -> dict[str, Any] | None:
        return dict(self.cursors[name]) if name in self.cursors else None

    async def save_cursor(self, name: str, cursor: Mapping[str, Any]) -> None:
        if self.before_save:
            await self.before_save(len(self.cursor_saves))
        self.cursors[name] = dict(cursor)
        self.cursor_saves.append(dict(cursor))

    async def dead_letter(self, source: str, raw: bytes | str, error: str,
                          stage: str = "parse") -> None:
        self.dead.append((source, raw, error))

    async def stored_meta(self, channel: str, external_ids: Sequence[str]
                          ) -> dict[str, Mapping[str, Any]]:
        return {e: self.messages[(channel, e)].meta for e in external_ids
                if (channel, e) in self.messages}

    def ctx(self) -> ConnectorContext:
        return ConnectorContext(self.ingest, self.load_cursor, self.save_cursor,
                                self.dead_letter, self.stored_meta)

    def texts(self) -> list[str]:
        return sorted(m.text for m in self.messages.values())

    def subjects(self) -> list[str | None]:
        return sorted((m.subject for m in self.messages.values()), key=str)

    @property
    def submitted(self) -> int:
        """Items handed to ingest, duplicates included."""
        return sum(len(b) for b in self.batches)
