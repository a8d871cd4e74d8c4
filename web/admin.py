"""The admin's user page: add, disable, enable, remove, set passwords, issue and revoke tokens.

Plain forms (no JavaScript), each with the session's CSRF token, answered post/redirect/get,
except a new token, which is shown once in the answer to its form and never again.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from inbox import auth
from inbox.errors import InboxError
from inbox.model import Role, User
from web import params
from web.guards import current_user, set_session_cookie
from web.keys import context
from web.render import back, render
from web.serialize import read_form

PATH = "/admin/users"


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, users_page)
    app.router.add_post(PATH + "/{action}", users_action)


async def _context(request: web.Request, **extra: Any) -> dict[str, Any]:
    accounts = context(request).accounts
    return {"users": sorted(await accounts.users(), key=lambda u: u.email),
            "tokens": await accounts.tokens(), "roles": [r.value for r in Role],
            "token_days": accounts.token_days,
            "flash": request.query.get("flash"), "new_token": None, **extra}


async def users_page(request: web.Request) -> web.Response:
    return render("admin_users.html", request, await _context(request))


def _field(form: MultiDictProxy[Any], name: str) -> str:
    return str(form.get(name, "")).strip()


async def users_action(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    form = await read_form(request)
    accounts, me = context(request).accounts, current_user(request)
    email = _field(form, "email")
    try:
        if action == "add":
            user = await accounts.add_user(email, _field(form, "role"),
                                           str(form.get("password", "")),
                                           _field(form, "name") or None)
            flash = f"{user.email} saved as {user.role}."
        elif action == "password":
            user = await accounts.set_password(email, str(form.get("password", "")))
            flash = f"Password of {user.email} changed; their sessions and tokens are revoked."
            if user.id == me.id:  # the admin's own session was revoked too: start a new one
                return await _signed_in_again(request, user, flash)
        elif action == "disable":
            user = await accounts.set_disabled(email, True)
            flash = f"{user.email} disabled; their sessions and tokens are revoked."
        elif action == "enable":
            user = await accounts.set_disabled(email, False)
            flash = f"{user.email} enabled."
        elif action == "remove":
            await accounts.remove_user(email)
            flash = f"{email} removed, with their tokens."
        elif action == "token":
            days_text = _field(form, "days")
            days = (params.whole_number(days_text, "days", 1, auth.MAX_TOKEN_DAYS)
                    if days_text else None)
            token = await accounts.create_token(email, days=days,
                                                label=_field(form, "label") or None)
            shown = await _context(request, new_token=token, token_user=email,
                                   new_token_id=auth.token_id(token), flash=None)
            return render("admin_users.html", request, shown)
        elif action == "revoke":
            info = await accounts.revoke_token(_field(form, "id"))
            flash = f"Token {info.id} of {info.email} revoked."
        else:
            raise web.HTTPNotFound()
    except InboxError as exc:
        flash = f"Not done: {exc}"
    raise back(PATH, flash)


async def _signed_in_again(request: web.Request, user: User, flash: str) -> web.Response:
    sid = await context(request).accounts.start_session(user)
    response = back(PATH, flash)
    set_session_cookie(request, response, sid)
    raise response
