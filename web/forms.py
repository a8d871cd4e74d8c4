"""HTTP side of the public web forms: GET/POST /forms/<slug> and POST /api/forms/<slug>."""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from connectors.webform import (
    HONEYPOT,
    FormSpec,
    forms_from_config,
    to_inbound,
    validate,
)
from inbox.app.runtime import Runtime
from inbox.errors import NotFound, RateLimited, ValidationError
from inbox.model import utcnow
from inbox.ratelimit import RateLimiter
from web.keys import RUNTIME
from web.render import page, render
from web.serialize import json_object, json_response

log = logging.getLogger(__name__)
FORMS = web.AppKey("forms", dict)
LIMITER = web.AppKey("form_limiter", RateLimiter)


def setup(app: web.Application, runtime: Runtime) -> None:
    app[FORMS] = forms_from_config(runtime.config)
    app[LIMITER] = RateLimiter(runtime.settings.forms.rate_limit,
                               runtime.settings.forms.rate_window)
    app.router.add_get("/forms/{slug}", show_form)
    app.router.add_post("/forms/{slug}", post_form)
    app.router.add_post("/api/forms/{slug}", post_form_json)


def _spec(request: web.Request) -> FormSpec:
    spec: FormSpec | None = request.app[FORMS].get(request.match_info["slug"])
    if spec is None:
        raise NotFound("no such form")
    return spec


async def _body(request: web.Request, inflation: int = 1) -> str:
    """The whole request body as text, within the size limit, or a clear error.

    `inflation`: urlencoded forms spend up to 3 bytes per byte of UTF-8, so the HTML form
    allows that much more for the same text."""
    limit = request.app[RUNTIME].settings.forms.max_bytes * inflation
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    chunks, size = [], 0
    while chunk := await request.content.read(limit + 1 - size):  # until the end of the body
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError({"body": "is not valid UTF-8 text"}) from exc


def client_address(request: web.Request) -> str:
    """The client's address; X-Forwarded-For only when configured behind our own proxy."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and request.app[RUNTIME].settings.web.trust_proxy:
        return forwarded.split(",")[0].strip()
    return request.remote or "unknown"


def _rate_limit(request: web.Request) -> None:
    wait = request.app[LIMITER].take(client_address(request))
    if wait:
        raise RateLimited(f"too many messages from your address; try again in {int(wait)} s",
                          wait)


async def _submit(request: web.Request, spec: FormSpec, data: dict[str, Any]
                  ) -> dict[str, Any]:
    """Validate and ingest; returns what the customer is told."""
    runtime: Runtime = request.app[RUNTIME]
    now = utcnow()
    if data.get(HONEYPOT):
        log.info("web form honeypot filled; dropped", extra={"form": spec.slug})
        return _receipt(runtime, now, reference=secrets.token_hex(6))
    submission = validate(data, spec)
    result = await runtime.ingest([to_inbound(submission, spec, now)],
                                  source=f"webform:{spec.slug}")
    if not (result.stored or result.known):  # kept as a dead letter for an admin: not lost
        return _receipt(runtime, now, reference=result.dead[0].key)
    message = (result.stored or result.known)[0]
    return _receipt(runtime, message.created_at, reference=message.conversation_id)


def _receipt(runtime: Runtime, received: Any, reference: str) -> dict[str, Any]:
    due = runtime.sla.due("webform", received)
    tz = runtime.sla.calendar.zone
    body: dict[str, Any] = {"ok": True, "reference": reference}
    if due is not None:
        local = due[0].astimezone(tz)
        body["expected_reply_by"] = due[0].isoformat()
        body["message"] = (f"Thank you, we have your message. You can expect an answer by "
                           f"{local:%A %-d %B %Y, %H:%M} ({runtime.sla.calendar.timezone}).")
    else:
        body["message"] = "Thank you, we have your message and will answer as soon as we can."
    return body


async def post_form_json(request: web.Request) -> web.Response:
    spec = _spec(request)
    _rate_limit(request)
    data = json_object(await _body(request))
    return json_response(await _submit(request, spec, data), status=201)


@page("form.html")
async def show_form(request: web.Request) -> dict[str, Any]:
    return {"spec": _spec(request), "values": {"idempotency_key": secrets.token_urlsafe(16)},
            "errors": {}, "honeypot": HONEYPOT}


async def post_form(request: web.Request) -> web.Response:
    spec = _spec(request)
    values: dict[str, Any] = {}
    try:
        _rate_limit(request)
        values = dict(parse_qsl(await _body(request, inflation=3), keep_blank_values=True,
                                max_num_fields=20))
        receipt = await _submit(request, spec, values)
    except ValidationError as exc:
        return render(
            "form.html", request, {"spec": spec, "values": values, "errors": exc.errors,
                                   "honeypot": HONEYPOT}, status=400)
    except ValueError as exc:  # too many fields, broken encoding
        return render(
            "form.html", request, {"spec": spec, "values": {}, "honeypot": HONEYPOT,
                                   "errors": {"body": f"could not read the form: {exc}"}},
            status=400)
    return render("thanks.html", request,
                                          {"spec": spec, "receipt": receipt})
