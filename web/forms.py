"""HTTP side of the public web forms: GET/POST /forms/<slug> and POST /api/forms/<slug>.

The web adds the size and rate limits; the forms use case validates and stores."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from inbox.errors import RateLimited, ValidationError
from inbox.ports import WebForm
from inbox.ratelimit import RateLimiter
from web.guards import client_address
from web.keys import CONTEXT, context
from web.render import page, render
from web.serialize import json_object, json_response

LIMITER = web.AppKey("form_limiter", RateLimiter)


def setup(app: web.Application) -> None:
    limits = app[CONTEXT].form_limits
    app[LIMITER] = RateLimiter(limits.rate_limit, limits.rate_window)
    app.router.add_get("/forms/{slug}", show_form)
    app.router.add_post("/forms/{slug}", post_form)
    app.router.add_post("/api/forms/{slug}", post_form_json)


def _form(request: web.Request) -> WebForm:
    return context(request).forms.form(request.match_info["slug"])  # NotFound: a 404


async def read_body(request: web.Request, inflation: int = 1) -> str:
    """The whole request body as text, within the size limit, or a clear error.

    `inflation`: urlencoded forms spend up to 3 bytes per byte of UTF-8, so the HTML form
    allows that much more for the same text."""
    limit = context(request).form_limits.max_bytes * inflation
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


def rate_limit(request: web.Request) -> None:
    wait = request.app[LIMITER].take(client_address(request))
    if wait:
        raise RateLimited(f"too many messages from your address; try again in {int(wait)} s",
                          wait)


async def post_form_json(request: web.Request) -> web.Response:
    spec = _form(request)
    rate_limit(request)
    data = json_object(await read_body(request))
    return json_response(await context(request).forms.submit(spec.slug, data), status=201)


@page("form.html")
async def show_form(request: web.Request) -> dict[str, Any]:
    return {"spec": _form(request), "values": {"idempotency_key": secrets.token_urlsafe(16)},
            "errors": {}, "honeypot": context(request).forms.honeypot}


async def post_form(request: web.Request) -> web.Response:
    spec, forms = _form(request), context(request).forms
    values: dict[str, Any] = {}
    try:
        rate_limit(request)
        values = dict(parse_qsl(await read_body(request, inflation=3), keep_blank_values=True,
                                max_num_fields=20))
        receipt = await forms.submit(spec.slug, values)
    except ValidationError as exc:
        return render(
            "form.html", request, {"spec": spec, "values": values, "errors": exc.errors,
                                   "honeypot": forms.honeypot}, status=400)
    except ValueError as exc:  # too many fields, broken encoding
        return render(
            "form.html", request, {"spec": spec, "values": {}, "honeypot": forms.honeypot,
                                   "errors": {"body": f"could not read the form: {exc}"}},
            status=400)
    return render("thanks.html", request, {"spec": spec, "receipt": receipt})
