"""Dead letters: what could not be stored, kept raw for an admin, with counts per source."""

from __future__ import annotations

from typing import Any

from inbox import deadletters
from inbox.store import Store

PREVIEW = 2000  # characters of the raw item shown in lists


class DeadLetters:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def page(self, after: str | None, limit: int
                   ) -> tuple[list[dict[str, Any]], str | None]:
        """Dead letters oldest first from the key `after`, the raw text cut to a preview
        (raw_preview), each with its key as "id"; and the key to go on after (None on the
        last page)."""
        items = await self.store.dead_letters.list(after, limit)
        rows = [{"id": k, **{f: v for f, v in doc.items() if f != "raw"},
                 "raw_preview": str(doc.get("raw", ""))[:PREVIEW]} for k, doc in items]
        return rows, (items[-1][0] if len(items) == limit else None)

    async def counts(self) -> dict[str, dict[str, Any]]:
        """Per source: {"total", "stages": {stage: n}, "last_at", "last_error"}."""
        return await deadletters.counts(self.store)
