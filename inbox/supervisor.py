"""One supervisor per connector: runs it, restarts it with backoff, never gives up.

States (``state`` of ``snapshot()``):
    starting     created, not yet run
    running      connector.run() is running
    backing_off  run() failed (or returned); restarting at ``next_retry``
    failed       as backing_off, but the failure needs a human (refused credentials, a
                 stream that stopped itself): it is still retried, less often
    stopped      the supervisor was cancelled (worker lease lost, shutdown)
/api/connectors folds the connector's own status() in (``merged``): a connector that keeps
running but retries a failure inside shows ``backing_off`` with its own last error.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from inbox.errors import FatalError
from inbox.model import utcnow
from inbox.ports import Connector, ConnectorContext
from inbox.retry import backoff_delay

log = logging.getLogger(__name__)
RESTART_MIN = 1.0  # seconds before the first restart
RESTART_MAX = 300.0  # the longest wait between restarts
HEALTHY_AFTER = 600.0  # a run this long counts as healthy: the next failure waits RESTART_MIN


class Supervisor:
    """Runs one connector until cancelled, restarting it after every failure."""

    def __init__(self, connector: Connector, ctx: ConnectorContext, *,
                 low: float = RESTART_MIN, high: float = RESTART_MAX,
                 rng: random.Random | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.connector, self.ctx = connector, ctx
        self.low, self.high = low, high
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._sleep, self._clock = sleep, clock
        self.state = "starting"
        self.restarts = 0
        self.failures = 0  # consecutive
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.next_retry: datetime | None = None
        self.started_at: datetime | None = None

    async def run(self) -> None:
        name = self.connector.name
        try:
            while True:
                self.state, self.next_retry = "running", None
                self.started_at = self._clock()
                try:
                    await self.connector.run(self.ctx)
                    error = "the connector stopped: " + _reason(self.connector)
                    needs_human = True
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is None or task.cancelling():
                        raise  # we are being stopped
                    error, needs_human = "the connector was cancelled from inside", False
                except Exception as exc:  # noqa: BLE001 - the point: nothing stops it for good
                    error = f"{type(exc).__name__}: {exc}"
                    needs_human = isinstance(exc, FatalError)
                    log.error("connector failed, restarting", exc_info=not needs_human,
                              extra={"connector": name, "error": error})
                ran = (self._clock() - self.started_at).total_seconds()
                self.failures = 1 if ran >= HEALTHY_AFTER else self.failures + 1
                delay = backoff_delay(self.failures, self._rng, self.low, self.high)
                self.state = "failed" if needs_human else "backing_off"
                self.last_error, self.last_error_at = error[:2000], self._clock()
                self.next_retry = self._clock() + timedelta(seconds=delay)
                log.warning("connector restarts in %.1fs", delay,
                            extra={"connector": name, "error": error[:500],
                                   "restarts": self.restarts})
                await self._sleep(delay)
                self.restarts += 1
        finally:
            self.state, self.next_retry = "stopped", None

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state for /api/connectors."""
        return {"state": self.state, "restarts": self.restarts, "last_error": self.last_error,
                "last_error_at": _iso(self.last_error_at), "next_retry": _iso(self.next_retry),
                "running_since": _iso(self.started_at) if self.state == "running" else None}


def merged(snapshot: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    """The supervisor's snapshot with the connector's own trouble folded in, so every stream
    shows the same way: one that keeps running but fails inside its own retry loop (its
    status() has ``failures`` > 0, or ``paused``) is ``backing_off`` until its ``next_poll``,
    and the later of the two last errors (status ``last_error``/``alert``,
    ``last_error_at``) is the one shown."""
    out = dict(snapshot)
    own = status.get("alert") or status.get("last_error")
    own_at = status.get("last_error_at")
    if own and (out.get("last_error") is None
                or _later(own_at, out.get("last_error_at"))):
        out["last_error"], out["last_error_at"] = str(own)[:2000], own_at
    failing = _count(status.get("failures")) > 0 or status.get("paused") is True
    if out.get("state") == "running" and failing:
        out["state"], out["next_retry"] = "backing_off", status.get("next_poll")
    return out


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _later(a: Any, b: Any) -> bool:
    """Is ISO time a after b (b missing counts as earlier, a missing as not later)?"""
    try:
        return a is not None and (b is None or datetime.fromisoformat(str(a))
                                  >= datetime.fromisoformat(str(b)))
    except (ValueError, TypeError):
        return False


def _reason(connector: Connector) -> str:
    try:
        status = connector.status()
    except Exception:  # noqa: BLE001 - a broken status() must not break the supervisor
        return "no reason given"
    reason = status.get("alert") or status.get("last_error")
    return str(reason) if reason else "no reason given"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
