"""The signed-in user's own settings: the time zone pages show times in."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from inbox.auth import known_timezones
from inbox.errors import ValidationError
from web.guards import current_user
from web.keys import context
from web.render import back, page
from web.serialize import read_form


def setup(app: web.Application) -> None:
    app.router.add_get("/settings", settings_page)
    app.router.add_post("/settings", save_settings)


@page("settings.html")
async def settings_page(request: web.Request) -> dict[str, Any]:
    return {"zones": known_timezones(), "flash": request.query.get("flash"),
            "team_zone": context(request).conversations.sla.calendar.timezone}


async def save_settings(request: web.Request) -> web.Response:
    form = await read_form(request)
    chosen = str(form.get("timezone", "")).strip() or None  # empty: the team's zone
    try:
        await context(request).accounts.set_timezone(current_user(request).email, chosen)
    except ValidationError as exc:
        raise back("/settings", f"Not saved: {exc}") from None
    raise back("/settings", "Saved: times now show in "
                            f"{chosen or 'the team time zone'}.")
