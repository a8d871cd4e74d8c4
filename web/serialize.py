"""Domain objects as JSON-able dicts for the API, and request bodies read safely."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from inbox.errors import ValidationError

MAX_JSON_DEPTH = 20
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


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


def json_depth(text: str, stop: int) -> int:
    """How deeply arrays and objects nest in JSON text (counting stops past `stop`)."""
    depth = deepest = 0
    for c in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if c in "[{" else -1
        deepest = max(deepest, depth)
        if deepest > stop:
            break
    return deepest


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


def json_object(text: str) -> dict[str, Any]:
    """A request body as a JSON object: at most MAX_JSON_DEPTH levels deep, numbers of at
    most 4300 digits, no lone surrogates (\\ud800 is not text); ValidationError (a 400
    naming the problem) otherwise."""
    if json_depth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ValidationError({"body": f"nests more than {MAX_JSON_DEPTH} levels deep"})
    try:
        data = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or a number of over 4300 digits
        raise ValidationError({"body": f"is not valid JSON ({exc})"[:200]}) from exc
    if not isinstance(data, dict):
        raise ValidationError({"body": "must be a JSON object"})
    if _has_surrogate(data):
        raise ValidationError({"body": "holds a lone surrogate (\\ud800-\\udfff), which is "
                                       "not text"})
    return data


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """A form body (urlencoded or multipart); a malformed one is a 400, never a 500."""
    try:
        return await request.post()
    except ValueError as exc:  # aiohttp's multipart parser: missing boundary, bad parts...
        raise ValidationError({"body": f"is not a readable form ({exc})"[:200]}) from exc
