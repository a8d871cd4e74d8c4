"""Accounts end to end: the `inbox users`/`inbox tokens` commands on a real SQLite store, and
the admin page, revocation, expiry and sign-in throttling through real HTTP."""

from __future__ import annotations

import asyncio
import io
import re
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from inbox import auth
from inbox.app.cli import main
from inbox.model import utcnow
from inbox.passwords import Passwords
from search.sqlite import SqliteStore
from tests.factories import CHEAP_ARGON2
from tests.integration.test_web import Web, make_web

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


# --- the command line -----------------------------------------------------------------------

def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        env: dict[str, str], *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv), env)
    out, err = capsys.readouterr()
    return code, out, err


def token_problem(db: Path, token: str) -> str | None:
    """Why the store refuses this token now, or None if it is accepted."""

    async def check() -> str | None:
        store = SqliteStore(db)
        await store.open()
        try:
            await auth.user_for_token(store, token)
        except auth.TokenRefused as exc:
            return str(exc)
        finally:
            await store.aclose()
        return None

    return asyncio.run(check())


def test_users_and_tokens_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "inbox.db"
    env = {"INBOX_STORE": f"sqlite:///{db}", "INBOX_ENRICH": "false", **CHEAP_ARGON2}

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        return cli(capsys, monkeypatch, env, *argv, stdin=stdin)

    assert run("users", "add", "root@example.com", "--role", "admin", stdin=PASSWORD + "\n")[0] == 0
    code, _, err = run("users", "add", "ava@example.com", "--role", "agent",
                       stdin="aaaaaaaaaa\n")
    assert code == 2 and "too easy to guess" in err and 'Repeats like "aaa"' in err
    code, _, err = run("users", "add", "ava@example.com", "--role", "agent",
                       stdin="ava@example.com\n")
    assert code == 2 and "name or email" in err
    assert run("users", "add", "ava@example.com", "--role", "agent", "--name", "Ava",
               stdin=PASSWORD + "\n")[0] == 0

    code, forever, _ = run("users", "token", "ava@example.com", "--label", "zapier")
    assert code == 0 and forever.startswith("inbx_")
    code, weekly, _ = run("users", "token", "ava@example.com", "--days", "7")
    for days in ("0", "3651", "99999999999"):
        code, _, err = run("users", "token", "ava@example.com", "--days", days)
        assert code == 2 and "from 1 to 3650" in err
    forever, weekly = forever.strip(), weekly.strip()
    code, out, _ = run("tokens", "list", "ava@example.com")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert any(auth.token_id(forever) in line and "never expires" in line and "zapier" in line
               for line in lines)
    assert any(auth.token_id(weekly) in line and "expires 20" in line for line in lines)
    assert forever not in out and weekly not in out  # the secret is shown once, at creation

    code, out, _ = run("tokens", "revoke", auth.token_id(forever))
    assert code == 0 and "revoked" in out
    assert token_problem(db, forever) == "invalid or revoked API token"
    assert token_problem(db, weekly) is None
    assert run("tokens", "revoke", auth.token_id(forever))[0] == 1  # gone already
    code, _, err = run("tokens", "revoke", "not-an-id")
    assert code == 2 and "hex digits" in err

    code, _, err = run("users", "passwd", "ava@example.com", stdin="Ava rules 2026 ok\n")
    assert code == 2 and "name or email" in err
    code, out, _ = run("users", "passwd", "ava@example.com", stdin="a brand new passphrase\n")
    assert code == 0 and "revoked" in out
    assert token_problem(db, weekly) is not None  # the password change revoked it

    token = run("users", "token", "ava@example.com")[1].strip()
    assert run("users", "disable", "ava@example.com")[0] == 0
    assert token_problem(db, token) == "this account is disabled"
    code, out, _ = run("users", "list")
    assert "ava@example.com\tagent\tdisabled\tlast sign-in never" in out
    code, _, err = run("users", "token", "ava@example.com")
    assert code == 2 and "disabled" in err
    assert run("users", "enable", "ava@example.com")[0] == 0
    assert token_problem(db, token) is not None  # enabling does not bring old tokens back
    assert "ava@example.com\tagent\tactive" in run("users", "list")[1]

    code, _, err = run("users", "disable", "root@example.com")
    assert code == 2 and "last enabled admin" in err
    assert run("users", "remove", "ava@example.com")[0] == 0
    assert "ava@example.com" not in run("users", "list")[1]
    assert run("tokens", "list")[1].strip() == "no tokens"
    code, _, err = run("users", "passwd", "ava@example.com", stdin=PASSWORD + "\n")
    assert code == 1 and "no user" in err


# --- the web --------------------------------------------------------------------------------

@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    async for w in make_web(tmp_path, INBOX_TRUST_PROXY="true"):
        yield w


class Browser:
    """One browser on one client address, with its own cookies."""

    def __init__(self, web: Web, address: str) -> None:
        self.web, self.address = web, address
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    def url(self, path: str) -> str:
        return str(self.web.client.make_url(path))

    async def request(self, method: str, path: str, **kw: Any) -> tuple[int, str, Any]:
        headers = {"X-Forwarded-For": self.address, **kw.pop("headers", {})}
        async with self.session.request(method, self.url(path), headers=headers,
                                        allow_redirects=False, **kw) as resp:
            return resp.status, await resp.text(), resp.headers

    async def sign_in(self, email: str, password: str = PASSWORD) -> tuple[int, str, Any]:
        return await self.request("POST", "/login", data={"email": email,
                                                          "password": password})

    async def csrf(self) -> str:
        _, page, _ = await self.request("GET", "/admin/users")
        return page.split('name="csrf" value="')[1].split('"')[0]

    async def admin(self, action: str, **fields: str) -> tuple[int, str, Any]:
        """Post an admin form; follow the redirect to the page it leads back to."""
        data = {"csrf": await self.csrf(), **fields}
        status, page, headers = await self.request("POST", f"/admin/users/{action}", data=data)
        if status == 303:
            return await self.request("GET", headers["Location"])
        return status, page, headers


@pytest.fixture
async def browsers(web: Web) -> AsyncIterator[Any]:
    made: list[Browser] = []

    def browser(address: str = "10.0.0.1") -> Browser:
        made.append(Browser(web, address))
        return made[-1]

    yield browser
    for b in made:
        await b.session.close()


async def api_me(web: Web, token: str) -> tuple[int, Any]:
    resp = await web.client.get("/api/me", headers=web.auth(token))
    return resp.status, await resp.json()


async def test_admin_page_manages_users_and_tokens(web: Web, browsers: Any) -> None:
    admin = browsers()
    assert (await admin.sign_in("admin@example.com"))[0] == 303
    status, page, headers = await admin.request("GET", "/admin/users")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert "ava@example.com" in page and "marketing" in page and "never" in page
    assert "<script" not in page.split("</main>")[0]  # plain forms, no JavaScript needed

    forged = await admin.request("POST", "/admin/users/add", data={
        "email": "new@example.com", "role": "agent", "password": PASSWORD})
    assert forged[0] == 403
    _, page, _ = await admin.admin("add", email="new@example.com", role="agent",
                                   password="aaaaaaaaaa")
    assert "Not done" in page and "too easy to guess" in page
    _, page, _ = await admin.admin("add", email="New@Example.com", role="agent",
                                   password=PASSWORD, name="Nina")
    assert "new@example.com saved as agent" in page and "Nina" in page

    status, page, headers = await admin.admin("token", email="new@example.com", label="ci",
                                              days="30")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    token = page.split('<code class="token">')[1].split("</code>")[0]
    assert (await api_me(web, token))[1]["email"] == "new@example.com"
    _, page, _ = await admin.request("GET", "/admin/users")
    assert token not in page and auth.token_id(token) in page  # shown once, listed by id
    _, page, _ = await admin.admin("revoke", id=auth.token_id(token))
    assert "revoked" in page
    assert await api_me(web, token) == (401, {"error": "invalid or revoked API token"})

    for email in ("mark@example.com", "ava@example.com"):
        other = browsers("10.0.0.9")
        assert (await other.sign_in(email))[0] == 303
        assert (await other.request("GET", "/admin/users"))[0] == 403
    anonymous = browsers("10.0.0.8")
    status, _, headers = await anonymous.request("GET", "/admin/users")
    assert status == 303 and headers["Location"].startswith("/login")


async def test_disabled_users_cannot_sign_in_or_use_tokens(web: Web, browsers: Any) -> None:
    admin, ava = browsers(), browsers("10.0.0.2")
    assert (await admin.sign_in("admin@example.com"))[0] == 303
    assert (await ava.sign_in("ava@example.com"))[0] == 303
    token = await auth.create_token(web.runtime.store, "ava@example.com")
    _, page, _ = await admin.admin("disable", email="ava@example.com")
    assert "ava@example.com disabled" in page
    assert await api_me(web, token) == (401, {"error": "this account is disabled"})
    status, _, headers = await ava.request("GET", "/inbox")
    assert status == 303 and headers["Location"].startswith("/login")
    status, page, _ = await ava.sign_in("ava@example.com")
    assert status == 403 and "disabled" in page
    assert (await ava.sign_in("ava@example.com", "wrong password here"))[0] == 401

    _, page, _ = await admin.admin("enable", email="ava@example.com")
    assert "ava@example.com enabled" in page
    assert (await ava.sign_in("ava@example.com"))[0] == 303
    assert (await api_me(web, token))[0] == 401  # what the disable revoked stays revoked

    _, page, _ = await admin.admin("disable", email="admin@example.com")
    assert "last enabled admin" in page
    _, page, _ = await admin.admin("remove", email="ava@example.com")
    assert "ava@example.com removed" in page
    status, _, headers = await ava.request("GET", "/inbox")
    assert status == 303 and headers["Location"].startswith("/login")
    assert (await ava.sign_in("ava@example.com"))[0] == 401


async def test_a_password_change_revokes_old_sessions_and_tokens(web: Web,
                                                                 browsers: Any) -> None:
    admin, ava = browsers(), browsers("10.0.0.2")
    assert (await admin.sign_in("admin@example.com"))[0] == 303
    assert (await ava.sign_in("ava@example.com"))[0] == 303
    assert (await ava.request("GET", "/inbox"))[0] == 200
    token = await auth.create_token(web.runtime.store, "ava@example.com")
    assert (await api_me(web, token))[0] == 200

    _, page, _ = await admin.admin("password", email="ava@example.com",
                                   password="aaaaaaaaaa")
    assert "too easy to guess" in page
    _, page, _ = await admin.admin("password", email="ava@example.com",
                                   password="a brand new passphrase")
    assert "sessions and tokens are revoked" in page
    status, _, headers = await ava.request("GET", "/inbox")
    assert status == 303 and headers["Location"].startswith("/login")
    assert (await ava.request("GET", "/api/me"))[0] == 401  # the old cookie on the API
    status, body = await api_me(web, token)
    assert status == 401 and "revoked" in body["error"]
    assert (await ava.sign_in("ava@example.com"))[0] == 401  # the old password
    assert (await ava.sign_in("ava@example.com", "a brand new passphrase"))[0] == 303
    assert (await ava.request("GET", "/inbox"))[0] == 200

    _, page, _ = await admin.admin("password", email="admin@example.com",
                                   password="a fresh passphrase for me")
    assert "Password of admin@example.com changed" in page  # and the admin stays signed in
    assert (await admin.request("GET", "/admin/users"))[0] == 200


async def test_expired_tokens_are_refused_and_listed_as_expired(web: Web,
                                                                browsers: Any) -> None:
    old = await auth.create_token(web.runtime.store, "ava@example.com", days=1,
                                  now=utcnow() - timedelta(days=2))
    fresh = await auth.create_token(web.runtime.store, "ava@example.com", days=1)
    assert await api_me(web, old) == (401, {"error": "token expired"})
    assert (await api_me(web, fresh))[0] == 200
    admin = browsers()
    await admin.sign_in("admin@example.com")
    _, page, _ = await admin.request("GET", "/admin/users")
    row = page.split(auth.token_id(old))[1].split("</tr>")[0]
    assert re.search(r"expired <time datetime=\"20[^\"]+\" title=\"[^\"]+\">yesterday<", row)
    csrf = await admin.csrf()
    for days in ("3651", "99999999999", "3000000"):
        status, _, headers = await admin.request(
            "POST", "/admin/users/token", data=f"csrf={csrf}&email=ava%40example.com&days={days}"
            .encode(), headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 303 and "from+1+to+3650" in headers["Location"]


async def test_guessing_slows_one_client_and_never_locks_the_owner_out(
        web: Web, browsers: Any) -> None:
    attacker, owner = browsers("203.0.113.7"), browsers("198.51.100.1")
    codes = [(await attacker.sign_in("admin@example.com", f"guess number {i}"))[0]
             for i in range(5)]
    assert codes == [401] * 5
    status, page, headers = await attacker.sign_in("admin@example.com")  # even the right one
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert "Too many failed sign-ins" in page and "Try again in" in page
    assert (await owner.sign_in("admin@example.com"))[0] == 303  # from another client
    assert (await attacker.sign_in("ava@example.com"))[0] == 303  # another account

    office = browsers("192.0.2.5")
    for _ in range(4):
        assert (await office.sign_in("mark@example.com", "a wrong password"))[0] == 401
    assert (await office.sign_in("mark@example.com"))[0] == 303  # success resets the pair
    codes = [(await office.sign_in("mark@example.com", "a wrong password"))[0]
             for _ in range(6)]
    assert codes == [401] * 5 + [429]


async def test_sign_in_upgrades_a_hash_made_with_other_argon2_settings(web: Web,
                                                                       browsers: Any) -> None:
    older = Passwords(time_cost=2, memory_kib=16, parallelism=1)  # e.g. before a config change
    await auth.add_user(web.runtime.store, "old@example.com", "agent", PASSWORD,
                        passwords=older)
    assert (await browsers().sign_in("old@example.com"))[0] == 303
    user = await auth.get_user(web.runtime.store, "old@example.com")
    assert not web.runtime.passwords.needs_rehash(user.password_hash)
    assert user.last_sign_in is not None


@pytest.mark.parametrize("email", ["%ED%A0%80%40example.com", "%00a%40example.com",
                                   "x" * 100_000, "", "not+an+address"])
async def test_forged_admin_forms_get_a_clear_answer(web: Web, browsers: Any, email: str) -> None:
    admin = browsers()
    await admin.sign_in("admin@example.com")
    csrf = await admin.csrf()
    for action, fields in [(a, f"email={email}&password=correct+horse+battery&role=agent")
                           for a in ("disable", "enable", "remove", "password", "token", "add")
                           ] + [("revoke", "id=%ED%A0%80" * 12)]:
        status, _, headers = await admin.request(
            "POST", f"/admin/users/{action}", data=f"csrf={csrf}&{fields}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 303
        status, page, _ = await admin.request("GET", headers["Location"])
        assert status == 200 and ("Not done" in page or action == "add")  # aiohttp reads
        # undecodable bytes as U+FFFD, which an internationalised address may hold
