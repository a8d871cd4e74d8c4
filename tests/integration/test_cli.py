"""The `inbox` command: init, users, search, poll (against the fake X API), durability."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inbox.app.cli import main
from tests.factories import CHEAP_ARGON2

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(capsys: pytest.CaptureFixture[str], env: dict[str, str],
        *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), env)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false",
            **CHEAP_ARGON2}


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_init_writes_a_config_that_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         env: dict[str, str]) -> None:
    path = tmp_path / "inbox.toml"
    code, out, _ = run(capsys, env, "init", "--path", str(path))
    assert code == 0 and path.exists() and "[store]" in path.read_text()
    assert run(capsys, env, "init", "--path", str(path))[0] == 1  # never overwrites silently
    code, out, err = run(capsys, env, "--config", str(path), "search", "anything")
    assert code == 0 and "0 messages" in out


def test_config_errors_name_the_key_and_the_fix(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[web]\nport = "eighty"\n')
    code, _, err = run(capsys, {}, "--config", str(bad), "search", "x")
    assert code == 2 and "web.port" in err and "whole number" in err
    bad.write_text('[sla]\ntimezone = "Mars/Olympus"\n')
    code, _, err = run(capsys, {}, "--config", str(bad), "search", "x")
    assert code == 2 and "sla.timezone" in err and "IANA" in err
    code, _, err = run(capsys, {"INBOX_STORE": "mysql://x"}, "search", "x")
    assert code == 2 and "store.url" in err and "sqlite:///" in err
    code, _, err = run(capsys, {}, "--config", str(tmp_path / "none.toml"), "search", "x")
    assert code == 2 and "inbox init" in err


def test_users_add_token_and_bad_input(capsys: pytest.CaptureFixture[str], env: dict[str, str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    code, out, _ = run(capsys, env, "users", "add", "Boss@Example.com", "--role", "manager")
    assert code == 0 and "boss@example.com (manager)" in out
    code, out, _ = run(capsys, env, "users", "token", "boss@example.com")
    assert code == 0 and out.strip().startswith("inbx_")
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    code, _, err = run(capsys, env, "users", "add", "x@example.com", "--role", "agent")
    assert code == 2 and "password" in err
    code, _, err = run(capsys, env, "users", "token", "nobody@example.com")
    assert code == 1 and "no user" in err


def test_search_reports_parse_errors_with_a_caret(capsys: pytest.CaptureFixture[str],
                                                  env: dict[str, str]) -> None:
    code, _, err = run(capsys, env, "search", "refund channel:fax")
    assert code == 2 and "invalid channel 'fax'" in err and "^" in err


@pytest.fixture
def fake_x() -> Iterator[dict[str, str]]:
    yield from fake_x_server("demo")


@pytest.fixture
def hostile_x() -> Iterator[dict[str, str]]:
    yield from fake_x_server("hostile")


def fake_x_server(seed: str) -> Iterator[dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.x_api", "--port", "0",
                             "--seed", seed], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        settings = {}
        while len(settings) < 9:
            line = proc.stderr.readline()
            if not line:
                break
            if line.startswith("export "):
                key, _, value = line.removeprefix("export ").strip().partition("=")
                settings[key] = value.strip('"')
        assert "INBOX_X_API_URL" in settings, "the fake X API did not start"
        yield settings
    finally:
        proc.terminate()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def test_poll_x_once_links_customers_by_user_id(capsys: pytest.CaptureFixture[str],
                                                env: dict[str, str],
                                                fake_x: dict[str, str]) -> None:
    env = {**env, **fake_x}
    code, out, err = run(capsys, env, "poll", "--channel", "x", "--once")
    assert code == 0, err
    assert "x:mentions: stored 4" in out and "x:dms: stored 1" in out
    assert "x:listen: stored 1" in out  # the rule imported from x.keywords
    code, out, _ = run(capsys, env, "poll", "--channel", "x", "--once")
    assert "stored 0" in out and "stored 1" not in out  # nothing twice
    code, out, _ = run(capsys, env, "search", "channel:x", "--json")
    found = json.loads(out)
    assert found["total"] == 6
    by_author: dict[str, set[str]] = {}
    for m in found["messages"]:
        by_author.setdefault(m["customer_id"], set()).add(m["external_id"])
    assert any(any(e.startswith("dm:") for e in ids) and len(ids) > 1
               for ids in by_author.values()), "a DM and a mention share their customer"


def test_poll_sets_poison_aside_exits_0_and_warns(capsys: pytest.CaptureFixture[str],
                                                  env: dict[str, str],
                                                  hostile_x: dict[str, str]) -> None:
    env = {**env, **hostile_x}
    code, out, err = run(capsys, env, "poll", "--channel", "x", "--once")
    assert code == 0, err
    assert "x:mentions: stored 9, updated 0, already had 0, dead-lettered 4" in out
    assert "x:dms: stored 2, updated 0, already had 0, dead-lettered 1" in out
    assert "warning: 5 item(s)" in err and "inbox dead-letters" in err
    assert "Traceback" not in err
    code, out, err = run(capsys, env, "poll", "--channel", "x", "--once")
    assert code == 0 and "x:mentions: stored 0" in out and "warning" not in err
    assert "x:dms: stored 0, updated 0, already had 0, dead-lettered 0" in out
    code, out, _ = run(capsys, env, "search", "poison OR utf", "--json")
    texts = sorted(m["text"] for m in json.loads(out)["messages"])
    assert texts == ["@acme broken utf-16 \ufffd in the middle",
                     "@acme the good one after the poison", "the good DM after the poison"]
    code, out, _ = run(capsys, env, "search", "far date", "--json")
    dated = json.loads(out)["messages"]
    assert len(dated) == 3 and all("date_replaced" in m["meta"] for m in dated)
    assert all(m["created_at"].startswith(m["received_at"][:10]) for m in dated)
    code, out, _ = run(capsys, env, "dead-letters")
    assert "x:mentions" in out and "x:dms" in out and "parse" in out
    assert "5 dead letters" in out and "not a JSON object" in out and "'id'" in out


def test_poll_reports_an_unreadable_api_in_one_line(capsys: pytest.CaptureFixture[str],
                                                    env: dict[str, str]) -> None:
    port = free_port()  # nothing listens there
    env = {**env, "INBOX_X_API_URL": f"http://127.0.0.1:{port}", "INBOX_X_BEARER_TOKEN": "t",
           "INBOX_X_USER_ID": "1000000001"}
    code, out, err = run(capsys, env, "poll", "--channel", "x", "--once")
    assert code == 1 and "x:mentions: error: X API unreachable" in err
    assert "Traceback" not in err


def test_poll_fails_on_refused_credentials(capsys: pytest.CaptureFixture[str],
                                           env: dict[str, str],
                                           fake_x: dict[str, str]) -> None:
    env = {**env, **fake_x, "INBOX_X_BEARER_TOKEN": "wrong",
           "INBOX_X_ACCESS_TOKEN_SECRET": "wrong"}
    code, _, err = run(capsys, env, "poll", "--channel", "x", "--once")
    assert code == 1 and "error:" in err and "warning" not in err


def test_acknowledged_posts_survive_sigkill(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            env: dict[str, str]) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "inbox.app.cli", "serve", "--port", str(port)],
                            cwd=tmp_path, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        assert "listening" in proc.stdout.readline()
        acked = set()
        for i in range(5):  # the default rate limit allows 5 posts a minute per address
            status, body = http("POST", f"http://127.0.0.1:{port}/api/forms/contact",
                                {"name": "Ann", "email": f"ann{i}@example.com",
                                 "message": f"durable message {i}"})
            assert status == 201
            acked.add(body["reference"])
        proc.send_signal(signal.SIGKILL)  # right after the last acknowledgement
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
    code, out, _ = run(capsys, env, "search", "durable", "--json", "--limit", "50")
    ids = sorted({m["conversation_id"] for m in json.loads(out)["messages"]})
    with sqlite3.connect(tmp_path / "inbox.db") as db:  # receipts carry the reference
        refs = db.execute(f"SELECT ref FROM conversations WHERE id IN ({','.join('?' * len(ids))})",
                          ids).fetchall()
    assert {str(r) for (r,) in refs} == acked and len(ids) == len(acked)


async def test_stream_status_is_visible_in_the_api(fake_x: dict[str, str], tmp_path: Path
                                                   ) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from inbox import auth
    from inbox.app.config import load as load_config
    from inbox.app.runtime import Runtime
    from web.app import create_app

    env = {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false",
           **CHEAP_ARGON2, **fake_x}
    runtime = Runtime(load_config(None, env), env)
    await runtime.start()
    client = TestClient(TestServer(create_app(runtime.web_context()), host="127.0.0.1"))
    await client.start_server()
    try:
        await runtime.poll_once("x")
        await auth.add_user(runtime.store, "m@example.com", "manager", "correct horse battery",
                            passwords=runtime.passwords)
        token = await auth.create_token(runtime.store, "m@example.com")
        resp = await client.get("/api/connectors", headers={"Authorization": f"Bearer {token}"})
        streams = {s["name"]: s for s in (await resp.json())["connectors"]}
        assert {"x:mentions", "x:dms", "x:listen"} <= set(streams)
        mentions = streams["x:mentions"]["status"]  # the stream's own fields
        assert mentions["last_poll"] and mentions["last_error"] is None
        assert mentions["remaining"] is not None  # the rate-limit budget from the headers
        assert "demo-bearer" not in json.dumps(streams)  # no secrets in status
    finally:
        await client.close()
        await runtime.aclose()


def test_worker_role_polls_without_serving_http(tmp_path: Path, env: dict[str, str],
                                               fake_x: dict[str, str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    env = {**env, **fake_x}
    proc = subprocess.Popen([sys.executable, "-m", "inbox.app.cli", "serve", "--role", "worker"],
                            cwd=tmp_path, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "worker running: x:mentions" in line and "listening" not in line
        for _ in range(50):  # the first polls run right away
            main(["search", "channel:x", "--json"], env)
            if json.loads(capsys.readouterr().out)["total"] == 6:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the worker stored nothing")
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
