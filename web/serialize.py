"""Domain objects as JSON-able dicts for the API, and request bodies read safely."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import datetime
from operator import attrgetter
from typing import Any

import orjson
from aiohttp import web
from multidict import MultiDictProxy

from inbox.errors import ValidationError

MAX_JSON_DEPTH = 20
HIDDEN_FIELDS = frozenset({"password_hash"})  # never in a response, nor fields named _private
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def plain(value: Any) -> Any:
    """A domain value as JSON-able dicts, lists and text, walked recursively (what `to_json`
    writes in one pass, for callers that need the dicts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name not in HIDDEN_FIELDS and not f.name.startswith("_")}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


_AS_DICT: dict[type, Callable[[Any], dict[str, Any]]] = {}
# A hidden field's name as a key in orjson's output: `"name":` cannot occur inside a JSON
# string (whose quotes are escaped as \"), so only an object written with that key holds it
_HIDDEN_KEYS = tuple(f'"{name}":'.encode() for name in HIDDEN_FIELDS)


def _reader(names: tuple[str, ...]) -> Callable[[Any], dict[str, Any]]:
    if not names:
        return lambda _: {}
    read = attrgetter(*names, names[0])  # a tuple even of one field (then twice)
    return lambda value: dict(zip(names, read(value), strict=False))  # one value more


def _as_dict(value: Any) -> dict[str, Any]:
    """orjson's hook for a dataclass: its fields but the hidden ones, read by one attrgetter
    made once per class (orjson then encodes the values: datetimes as isoformat(), enums as
    their values, tuples as arrays)."""
    convert = _AS_DICT.get(type(value))
    if convert is None:
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            raise TypeError(f"{type(value).__name__} is not JSON serializable")
        names = tuple(f.name for f in dataclasses.fields(value)
                      if f.name not in HIDDEN_FIELDS and not f.name.startswith("_"))
        convert = _reader(names)
        _AS_DICT[type(value)] = convert
    return convert(value)


def to_json(data: Any) -> bytes:
    """Domain values as compact UTF-8 JSON: the same document as `json.dumps(plain(data))`
    (same keys, ISO timestamps, nulls), written by orjson in one pass, dataclasses natively.
    Output holding a hidden field (a User's password_hash) is written again with every
    dataclass through `_as_dict`. What orjson refuses (a key that is not text, an integer
    over 64 bits, a lone surrogate) goes the old, slow way, escaped to ASCII."""
    try:
        text = orjson.dumps(data)
        if any(key in text for key in _HIDDEN_KEYS):
            text = orjson.dumps(data, default=_as_dict, option=orjson.OPT_PASSTHROUGH_DATACLASS)
    except orjson.JSONEncodeError:
        return json.dumps(plain(data), separators=(",", ":")).encode()
    return text


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.Response(body=to_json(data), status=status, headers=headers,
                        content_type="application/json", charset="utf-8")


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
