"""Pages and the API say when a count is capped or facets count only the newest matches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inbox.model import IdentityRef, Role
from search.sqlite import SqliteStore
from tests.factories import inbound
from tests.integration.web_support import CUSTOMER_EMAIL, RoleWeb, start_web

pytestmark = pytest.mark.integration


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=f"{tmp_path}/inbox.db"):
        store = w.runtime.store
        assert isinstance(store, SqliteStore)
        store.total_cap, store.facet_sample = 1, 1  # the app holds 3 messages
        yield w


async def two_more_from_the_customer(web: RoleWeb) -> None:
    """The voice of the customer counts customer messages only: 3 of them (the app's
    first message, a reply and a note count 1)."""
    await web.runtime.ingest([inbound(f"<more{i}@example.com>", f"still broken {i}",
                                      authors=(IdentityRef("email", CUSTOMER_EMAIL),),
                                      parent_keys=("mid:<m1@example.com>",))
                              for i in range(2)])


async def test_the_api_says_a_total_is_capped_and_facets_are_sampled(web: RoleWeb) -> None:
    agent = web.auth(Role.AGENT)
    every = await (await web.client.get("/api/search", params={"q": "", "facets": "channel"},
                                        headers=agent)).json()
    assert (every["total"], every["total_capped"], every["sampled"]) == (1, True, 0)
    assert every["facets"]["channel"] == [["email", 3]]  # counted from the daily rollup
    open_ = await (await web.client.get("/api/search", params={"q": "status:open",
                                                               "facets": "channel"},
                                        headers=agent)).json()
    assert (open_["total"], open_["total_capped"], open_["sampled"]) == (1, True, 1)
    assert open_["facets"]["channel"] == [["email", 1]]
    await two_more_from_the_customer(web)
    voc = await (await web.client.get("/api/voc", params={"q": "status:open"},
                                      headers=agent)).json()
    assert (voc["total_capped"], voc["sampled"]) == (True, 1)
    assert sum(n for _, n in voc["volume"]) == 1


async def test_pages_say_so_too(web: RoleWeb) -> None:
    await web.sign_in(Role.AGENT)
    search = await (await web.client.get("/search", params={"q": "status:open"})).text()
    assert "1+ messages" in search and "Counted over the 1 newest matches." in search
    await two_more_from_the_customer(web)
    voc = await (await web.client.get("/voc", params={"q": "status:open"})).text()
    assert "1+ messages" in voc and "count the 1 newest matches" in voc
    exact = await (await web.client.get("/search", params={"q": "channel:email"})).text()
    assert "1+ messages" in exact and "newest matches" not in exact


async def test_a_later_page_has_the_total_but_counts_no_facets(web: RoleWeb) -> None:
    agent = web.auth(Role.AGENT)
    params = {"q": "", "facets": "channel", "limit": "1"}
    first = await (await web.client.get("/api/search", params=params, headers=agent)).json()
    assert first["next_cursor"] and first["facets"]["channel"] == [["email", 3]]
    later = await (await web.client.get("/api/search", params={
        **params, "cursor": first["next_cursor"]}, headers=agent)).json()
    assert (later["total"], later["total_capped"], later["facets"]) == (1, True, {})
    assert later["messages"] and later["messages"] != first["messages"]
    await web.sign_in(Role.AGENT)
    page = await (await web.client.get("/search", params={
        "q": "", "cursor": first["next_cursor"]})).text()
    assert "are on <a" in page and "the first page</a>" in page  # where the counts are
