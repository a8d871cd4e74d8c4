"""The acknowledgement templates over HTTP: admins and managers edit them (CSRF, escaped,
previewed for a sample customer), others may not; the web form's thank-you page is written
with the web form's template; the acknowledgement shows in the thread, marked automatic."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inbox.model import utcnow
from tests.factories import inbound
from tests.integration.web_support import RoleWeb, start_web

pytestmark = pytest.mark.integration
PAGE = "/admin/acknowledgements"


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=f"{tmp_path}/inbox.db", env={"INBOX_ACK_EMAIL": "true"}):
        yield w


async def test_only_admins_and_managers_edit_the_templates(web: RoleWeb) -> None:
    c = web.client
    for role in ("agent", "marketing"):
        assert (await c.get(PAGE, headers=web.auth(role))).status == 403, role
        assert (await c.post(PAGE + "/save", data={"text": "x"},
                             headers=web.auth(role))).status == 403, role
    for role in ("manager", "admin"):
        page = await c.get(PAGE, headers=web.auth(role))
        assert page.status == 200, role
        assert "Thank you for your message" in await page.text()  # the default, English mail
    await web.sign_in("manager")
    assert f'href="{PAGE}"' in await (await c.get("/inbox")).text()  # in the nav


async def test_a_template_is_previewed_saved_escaped_and_reset(web: RoleWeb) -> None:
    c = web.client
    await web.sign_in("manager")
    where = {"kind": "ack", "channel": "email", "lang": "nl"}
    csrf = await web.csrf(PAGE + "?kind=ack&channel=email&lang=nl")
    hostile = "<script>alert(1)</script> Hoi {customer_first_name}, {expected_answer_time}."
    assert (await c.post(PAGE + "/save", data={**where, "text": hostile},
                         allow_redirects=False)).status == 403  # no CSRF token

    preview = await c.post(PAGE + "/preview", data={**where, "text": hostile, "csrf": csrf})
    shown = await preview.text()
    assert preview.status == 200 and "Preview only: not saved yet." in shown
    assert "<script>alert(1)</script>" not in shown
    assert html.escape("<script>alert(1)</script>", quote=False) + " Hoi Ann, uiterlijk " \
        in shown  # filled in for the sample, in Dutch
    assert "Bedankt voor uw bericht" in await web.runtime.acks.template("ack", "email", "nl")

    saved = await c.post(PAGE + "/save", data={**where, "text": hostile, "csrf": csrf})
    page = await saved.text()
    assert "Template saved." in page and "Edited" in page and "by manager@example.com" in page
    assert await web.runtime.acks.template("ack", "email", "nl") == hostile

    empty = await c.post(PAGE + "/save", data={**where, "text": "  ", "csrf": csrf})
    assert empty.status == 400 and "Not saved" in await empty.text()
    assert (await c.post(PAGE + "/nope", data={**where, "csrf": csrf})).status == 404

    reset = await c.post(PAGE + "/reset", data={**where, "csrf": csrf})
    assert "Template back to the default." in await reset.text()
    assert "Bedankt voor uw bericht" in await web.runtime.acks.template("ack", "email", "nl")


async def test_the_web_form_thanks_with_its_template(web: RoleWeb) -> None:
    manager = await web.runtime.accounts.user("manager@example.com")
    await web.runtime.acks.save_template(manager, "ack", "webform", "en",
                                         "Got it! Answer {expected_answer_time}, {reference}.")
    posted = await web.client.post("/api/forms/contact", json={
        "name": "Bo", "email": "bo@example.com", "message": "Please call me back"})
    body = await posted.json()
    conv = await web.runtime.conversations.by_reference(int(body["reference"]))
    assert conv is not None and conv.due_at is not None
    assert body["expected_reply_by"] == conv.due_at.isoformat()
    assert body["message"].startswith("Got it! Answer by ")
    assert body["message"].endswith(f", #{conv.ref}.")
    sent = web.runtime.replies.senders["email"].sent  # type: ignore[attr-defined]
    assert [o for o in sent if o.conversation.id == conv.id] == []  # the page is its ack


async def test_the_agent_sees_the_acknowledgement_marked_automatic(web: RoleWeb) -> None:
    new = await web.runtime.ingest([inbound("<fresh@example.com>", "Is my order on its way?",
                                            when=utcnow())])
    await web.sign_in("agent")
    page = await (await web.client.get(f"/conversations/{new.stored[0].conversation_id}")
                  ).text()
    assert "Automatic reply" in page and '<span class="tag">automated</span>' in page


async def test_the_api_lists_saves_and_resets_templates(web: RoleWeb) -> None:
    c, one = web.client, "/api/ack-templates/update/x/fr"
    assert (await c.get("/api/ack-templates", headers=web.auth("agent"))).status == 403
    assert (await c.put(one, json={"text": "x"}, headers=web.auth("agent"))).status == 403
    listed = await (await c.get("/api/ack-templates", headers=web.auth("manager"))).json()
    assert len(listed["templates"]) == 45  # 3 kinds (ack, update, csat), 3 channels, 5 languages
    saved = await c.put(one, json={"text": "Toujours là, {customer_first_name} !"},
                        headers=web.auth("manager"))
    body = (await saved.json())["template"]
    assert saved.status == 200 and body["preview"] == "Toujours là, Ann !"
    assert body["by"] == "manager@example.com"
    for bad in ({"text": ""}, {"text": ["x"]}, {"text": "x" * 5001}):
        refused = await c.put(one, json=bad, headers=web.auth("manager"))
        assert refused.status == 400 and (await refused.json())["errors"], bad
    unknown = await c.put("/api/ack-templates/ack/fax/xx", json={"text": "x"},
                          headers=web.auth("manager"))
    assert unknown.status == 400 and set((await unknown.json())["errors"]) == {"channel",
                                                                              "lang"}
    assert (await c.put(one, data=b"\xff{", headers=web.auth("manager"))).status == 400
    assert (await c.delete(one, headers=web.auth("admin"))).status == 200
    assert "Nous travaillons" in await web.runtime.acks.template("update", "x", "fr")
