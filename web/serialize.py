"""Domain objects as JSON-able dicts for the API."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from aiohttp import web


def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name not in ("password_hash",)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.json_response(plain(data), status=status, headers=headers,
                             dumps=lambda d: json.dumps(d, ensure_ascii=False))
