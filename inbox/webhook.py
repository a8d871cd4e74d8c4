"""Webhooks: POST a JSON document to a configured URL, retried a bounded number of times.

The URL may hold a secret (a token in its path or query): only its host is ever logged or
reported.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    attempts: int = 3  # tries in all
    timeout: float = 5.0  # seconds per try
    backoff: float = 1.0  # seconds before the second try, doubled after each

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "?"

    async def post(self, payload: Mapping[str, Any]) -> str:
        """Deliver the payload; what happened, as a short status ("delivered (200)",
        "failed after 3 tries: 503"); never raises."""
        why = ""
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                timeout = aiohttp.ClientTimeout(total=self.timeout)
                async with aiohttp.ClientSession(timeout=timeout) as session, \
                        session.post(self.url, json=dict(payload)) as response:
                    if response.status < 300:
                        return f"delivered ({response.status})"
                    why = f"HTTP {response.status}"
                    if 400 <= response.status < 500 and response.status not in (408, 429):
                        break  # the receiver refuses it: trying again will not help
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                why = type(exc).__name__
            log.warning("webhook failed", extra={"host": self.host, "attempt": attempt + 1,
                                                 "error": why})
        return f"failed after {attempt + 1} tries: {why}"
