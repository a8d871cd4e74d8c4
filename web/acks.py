"""The acknowledgement templates page /admin/acknowledgements: every template (acknowledgement
and update, per channel and language) listed, one edited at a time with a preview filled in
for a sample customer on the live calendar; plain forms with the session's CSRF token,
post/redirect/get (a preview answers its form directly, nothing saved). Its JSON twin:
GET /api/ack-templates, PUT and DELETE (back to the default) /api/ack-templates/{kind}/
{channel}/{lang}."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from inbox import acks
from inbox.errors import InboxError
from web import params
from web.guards import current_user
from web.keys import context
from web.render import back, render
from web.serialize import json_response, read_form

PATH = "/admin/acknowledgements"
API = "/api/ack-templates"
ONE = API + "/{kind}/{channel}/{lang}"


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, templates_page)
    app.router.add_post(PATH + "/{action}", templates_action)
    app.router.add_get(API, list_templates)
    app.router.add_put(ONE, save_template)
    app.router.add_delete(ONE, reset_template)


def _chosen(values: Any) -> tuple[str, str, str]:
    """The template asked for (kind, channel, language), the first of each when unknown."""
    kind, channel, lang = (str(values.get(k, "")) for k in ("kind", "channel", "lang"))
    return (kind if kind in acks.KINDS else acks.KINDS[0],
            channel if channel in acks.CHANNELS else acks.CHANNELS[0],
            lang if lang in acks.LANGS else acks.LANGS[0])


async def _page(request: web.Request, chosen: tuple[str, str, str], text: str | None,
                flash: str | None, status: int = 200) -> web.Response:
    found = context(request).acks
    templates = await found.templates()
    current = next(t for t in templates if (t["kind"], t["channel"], t["lang"]) == chosen)
    shown = current["text"] if text is None else text
    return render("admin_acks.html", request, {
        "templates": templates, "current": current, "text": shown,
        "preview": found.preview(*chosen, shown), "variables": acks.VARIABLES,
        "kinds": acks.KIND_NAMES, "langs": acks.LANG_NAMES, "flash": flash,
        "settings": found.settings}, status=status)


async def templates_page(request: web.Request) -> web.Response:
    return await _page(request, _chosen(request.query), None, request.query.get("flash"))


async def templates_action(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    form = await read_form(request)
    found, me = context(request).acks, current_user(request)
    chosen = _chosen(form)
    keep = dict(zip(("kind", "channel", "lang"), chosen, strict=True))
    text = str(form.get("text", ""))[:2 * acks.MAX_TEMPLATE]  # a preview shows no more
    try:
        if action == "preview":
            return await _page(request, chosen, text, "Preview only: not saved yet.")
        if action == "save":
            await found.save_template(me, *chosen, text)
            flash = "Template saved."
        elif action == "reset":
            await found.reset_template(me, *chosen)
            flash = "Template back to the default."
        else:
            raise web.HTTPNotFound()
    except InboxError as exc:
        if action == "save":
            return await _page(request, chosen, text, f"Not saved: {exc}", status=400)
        flash = f"Not done: {exc}"
    raise back(PATH, flash, keep)


# --- the API -------------------------------------------------------------------------------


async def list_templates(request: web.Request) -> web.Response:
    """Every template: kind, channel, lang, text, custom (false: the default), updated_at, by."""
    return json_response({"templates": await context(request).acks.templates()})


def _where(request: web.Request) -> tuple[str, str, str]:
    m = request.match_info
    return m["kind"], m["channel"], m["lang"]


async def save_template(request: web.Request) -> web.Response:
    """{"text": ...}: the team's template from now on; 400 naming what is wrong."""
    data = await params.json_body(request)
    found = context(request).acks
    doc = await found.save_template(current_user(request), *_where(request),
                                    params.text_field(data, "text"))
    kind, channel, lang = _where(request)
    return json_response({"template": {"kind": kind, "channel": channel, "lang": lang,
                                       **doc, "preview": found.preview(kind, channel, lang,
                                                                       doc["text"])}})


async def reset_template(request: web.Request) -> web.Response:
    await context(request).acks.reset_template(current_user(request), *_where(request))
    kind, channel, lang = _where(request)
    return json_response({"reset": {"kind": kind, "channel": channel, "lang": lang}})
