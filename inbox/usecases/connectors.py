"""Connectors: how each configured channel stream is doing, and the files they keep."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from inbox.ports import Connector
from inbox.supervisor import Supervisor, merged
from inbox.usecases.dead_letters import DeadLetters


class ConnectorStatus:
    """`supervisors` (by connector name) fill in while this process runs the workers;
    `running` says whether it does."""

    def __init__(self, connectors: Sequence[Connector], supervisors: Mapping[str, Supervisor],
                 dead_letters: DeadLetters, running: Callable[[], bool]) -> None:
        self.connectors, self.supervisors = connectors, supervisors
        self.dead_letters, self.running = dead_letters, running

    async def states(self) -> list[dict[str, Any]]:
        """Per connector: supervisor state, restarts, last error, next retry, the
        connector's own status() fields and its dead-letter counts (JSON-able)."""
        counts = await self.dead_letters.counts()
        states = []
        for connector in self.connectors:
            supervisor = self.supervisors.get(connector.name)
            try:
                own = dict(connector.status())
            except Exception as exc:  # noqa: BLE001 - one broken status() must not hide all
                own = {"status_error": f"{type(exc).__name__}: {exc}"}
            sup = supervisor.snapshot() if supervisor is not None else {
                "state": "stopped" if self.running() else "not running here", "restarts": 0,
                "last_error": None, "last_error_at": None, "next_retry": None,
                "running_since": None}
            dead = counts.get(connector.name, {})
            states.append({"name": connector.name, "channel": str(connector.channel),
                           "status": own, **merged(sup, own),
                           "dead_letters": {"total": int(dead.get("total", 0)),
                                            "stages": dict(dead.get("stages", {})),
                                            "last_at": dead.get("last_at")}})
        return states

    def attachment_file(self, ref: str) -> Path | None:
        """The stored content of an attachment ref, from whichever connector kept it."""
        for connector in self.connectors:
            find = getattr(connector, "attachment_file", None)
            if find is not None and (path := find(ref)) is not None:
                return Path(path)
        return None
