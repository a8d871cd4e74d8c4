"""Incidents in headless Chromium: an agent selects conversations in the queue and links them
to an incident at once, then sends one update from the incident's page; every customer gets
it by email (aiosmtpd) and the page shows each one's delivery; axe-core finds nothing."""

from __future__ import annotations

from typing import Any

import pytest

from inbox import auth
from tests.integration.test_journey_browser import accessibility_problems
from tests.integration.test_workspace_browser import (  # noqa: F401 - fixtures
    AGENT,
    ARTIFACTS,
    Served,
    seed,
    served,
    signed_in,
    smtp_server_fixture,
)
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration
ROWS = "#queue-list [role=row][data-id]"


async def test_link_from_the_queue_then_update_every_customer(
        served: Served, smtp_server: SmtpServer, chromium: Any) -> None:  # noqa: F811
    runtime = served.runtime
    assert runtime
    await seed(runtime, 3)
    agent = await auth.get_user(runtime.store, AGENT)
    outage = await runtime.incidents.create(agent, "Payments down", "Card payments fail.")
    page = await signed_in(chromium, served)

    for n in range(2):
        await page.locator(f"{ROWS} input[type=checkbox]").nth(n).check()
    await page.select_option("#bulk select[name=incident]", outage["id"])
    assert await accessibility_problems(page) == ""
    await page.click("#bulk form[data-bulk-form=incident] button")
    await page.wait_for_selector(
        "#bulk-result:has-text('Linked to incident “Payments down”: 2 conversations.')")
    assert len((await runtime.incidents.get(outage["id"]))["conversations"]) == 2

    await page.goto(f"{served.url}/incidents/{outage['id']}")
    await page.fill("textarea[name=text] >> nth=0", "We are fixing payments.")
    await page.click("button:has-text('Send the update')")
    await page.wait_for_selector(".flash:has-text('Update being sent to 2 conversations')")
    [update] = (await runtime.incidents.get(outage["id"]))["updates"]
    await runtime.incidents.wait(update)
    await page.reload()
    assert await page.locator("td.delivery-sent").count() == 2
    assert await page.inner_text(".channel-counts") == "2 conversations: Email 2"
    linked = await runtime.store.conversations_by_ids(
        (await runtime.incidents.get(outage["id"]))["conversations"])
    customers = await runtime.store.customers_by_ids([c.customer_id for c in linked.values()])
    assert sorted(r.rcpt_tos[0] for r in smtp_server.handler.received) == sorted(
        i.value for c in customers.values() for i in c.identities)  # each customer, once
    assert await accessibility_problems(page) == ""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "incident-after-update-1280.png"),
                          full_page=True)

    # an update still being sent: the page follows it, then shows each delivery
    stalled = await runtime.incidents.send_update(agent, outage["id"], "Fixed.", "k2")
    await runtime.incidents.aclose()  # stopped before sending anything
    await page.reload()
    await page.wait_for_selector("[data-progress-text]:has-text('sending, 0 of 2')")
    await runtime.incidents.send_update(agent, outage["id"], "Fixed.", "k2")  # the retry
    await page.wait_for_selector("[data-update-progress]:has-text('done — 2 sent')")
    await runtime.incidents.wait(stalled["id"])
    assert len(smtp_server.handler.received) == 4
