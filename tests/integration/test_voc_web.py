"""The VoC page and API over HTTP: a date range (kept in the URL, meeting the query's own
after:/before:), sentiment per bucket, the period against the previous one, values in the
chart and its table, the query's words marked (escaped), a streamed CSV export in bounded
memory, and no link marketing may not open."""

from __future__ import annotations

import csv
import io
import re
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from inbox.model import IdentityRef, Role
from tests.factories import at, inbound
from tests.integration.web_support import RoleWeb, start_web
from web import api
from web.charts import stacked_bars
from web.views import range_presets

pytestmark = pytest.mark.integration

ANGRY = "The outage is terrible, still no internet, awful service and nobody answers"
HAPPY = "Thank you so much, the engineer was great and everything works perfectly now"


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    env = {"INBOX_ENRICH": "true", "INBOX_ENRICH_WORKERS": "0"}
    async for w in start_web(db=str(tmp_path / "inbox.db"), env=env):
        yield w


def author(i: int) -> tuple[IdentityRef, ...]:
    return (IdentityRef("email", f"c{i}@example.com"),)


async def plant(web: RoleWeb) -> None:
    """Nov 8: 1 angry; Nov 10: 3 angry; Nov 11: 1 happy, 1 angry (the fixture's own
    message is on Nov 2)."""
    days = [(8, ANGRY), (10, ANGRY), (10, ANGRY), (10, ANGRY), (11, HAPPY), (11, ANGRY)]
    await web.runtime.ingest([inbound(f"<p{i}@x>", text, when=at(day), authors=author(i),
                                      subject="Outage")
                              for i, (day, text) in enumerate(days)])


async def voc(web: RoleWeb, **params: str) -> dict[str, object]:
    resp = await web.client.get("/api/voc", params=params, headers=web.auth(Role.MARKETING))
    assert resp.status == 200, await resp.text()
    body: dict[str, object] = await resp.json()
    return body


async def test_a_date_range_compares_with_the_period_before(web: RoleWeb) -> None:
    await plant(web)
    found = await voc(web, q="outage", **{"from": "2026-11-10", "to": "2026-11-11"})
    assert found["total"] == 5
    assert found["volume"] == [["2026-11-10", 3], ["2026-11-11", 2]]
    by_day = {row["start"]: row for row in found["sentiments"]}  # type: ignore[attr-defined]
    assert by_day["2026-11-10"]["negative"] == 3 and by_day["2026-11-11"]["positive"] == 1
    cmp = found["comparison"]
    assert (cmp["start"], cmp["last"]) == ("2026-11-10", "2026-11-11")  # type: ignore[index]
    assert (cmp["previous_start"], cmp["previous_last"]) == (  # type: ignore[index]
        "2026-11-08", "2026-11-09")
    rows = {r["name"]: r for r in cmp["rows"]}  # type: ignore[index]
    assert (rows["all"]["count"], rows["all"]["previous"], rows["all"]["change"]) == (5, 1, 4)
    assert (rows["negative"]["count"], rows["negative"]["previous"]) == (4, 1)
    assert rows["positive"]["change"] == 1

    # the query's own dates and the range meet: only Nov 11 is in both
    both = await voc(web, q="outage after:2026-11-11", **{"from": "2026-11-01",
                                                           "to": "2026-11-10"})
    assert both["total"] == 0
    both = await voc(web, q="outage after:2026-11-11", **{"from": "2026-11-10"})
    assert both["volume"] == [["2026-11-11", 2]]

    widest = await voc(web, q="outage", **{"from": "1970-01-01", "to": "2261-12-31"})
    assert widest["total"] == 6
    for bad in ({"from": "2026-11-12", "to": "2026-11-10"}, {"from": "11/10/2026"},
                {"to": "2026-02-30"}, {"from": "９９９９-01-01"}):
        resp = await web.client.get("/api/voc", params=bad, headers=web.auth(Role.MARKETING))
        assert resp.status == 400, bad
        page = await web.client.get("/voc", params=bad, headers=web.auth(Role.MARKETING))
        assert page.status == 400, bad


async def test_the_page_keeps_the_range_shows_values_and_marks_the_words(web: RoleWeb) -> None:
    await plant(web)
    await web.runtime.ingest([inbound("<h@x>", "outage <script>alert(1)</script> & Outages",
                                      when=at(11, 15), authors=author(99))])
    await web.sign_in(Role.MARKETING)
    page = await (await web.client.get("/voc", params={
        "q": "outage", "from": "2026-11-10", "to": "2026-11-11"})).text()
    assert 'name="from" value="2026-11-10"' in page and 'name="to" value="2026-11-11"' in page
    csv_link = re.search(r'href="(/api/voc/export.csv[^"]*)"', page)
    assert csv_link and "from=2026-11-10" in csv_link.group(1) and "to=2026-11-11" in \
        csv_link.group(1)
    read = re.search(r'href="(/search\?q=[^"]*)">read them', page)
    assert read and unquote(read.group(1)) == "/search?q=outage after:2026-11-10 before:2026-11-12"
    # each bar says its numbers (hover: <title>; focus and screen readers: aria-label)
    assert "<title>2026-11-10: 3 messages (3 negative)</title>" in page
    assert 'tabindex="0" role="img" aria-label="2026-11-11: 3 messages' in page
    assert "<summary>The numbers as a table</summary>" in page
    assert re.search(r'<tr class="cmp-all"><th scope="row">all</th><td>6</td><td>1</td>'
                     r"<td>\+5 \(\+500%\)</td>", page)
    # the words searched for are marked; the customer's markup stays text
    assert "<mark>outage</mark> &lt;script&gt;alert(1)&lt;/script&gt; &amp; <mark>Outages</mark>" \
        in page
    assert "<script>alert(1)" not in page


def test_the_presets_end_today_and_the_chart_scales() -> None:
    from datetime import date

    assert [(a.isoformat(), b.isoformat()) for _, a, b in range_presets(date(2026, 11, 30))] == [
        ("2026-11-24", "2026-11-30"), ("2026-11-01", "2026-11-30"), ("2026-10-01", "2026-11-30")]
    chart = stacked_bars([("2026-11-01", {"negative": 3, "positive": 1}),
                          ("2026-11-02", {"none": 0})])
    tall, empty = chart.bars
    assert tall.total == 4 and empty.total == 0 and empty.segments == ()
    assert [s.series for s in tall.segments] == ["negative", "positive"]  # bottom up
    assert tall.summary == "2026-11-01: 4 messages (3 negative, 1 positive)"
    assert chart.series == ("negative", "positive")
    assert tall.segments[0].y + tall.segments[0].height == chart.bottom  # on the axis
    assert [v for v, _ in chart.ticks] == [0, 2, 5]


async def export_peak(web: RoleWeb, **params: str) -> tuple[int, int]:
    """(rows, peak memory) of a VoC export, read and let go chunk by chunk as a download."""
    tracemalloc.start()
    try:
        resp = await web.client.get("/api/voc/export.csv", params=params,
                                    headers=web.auth(Role.MARKETING))
        assert resp.status == 200 and "Content-Length" not in resp.headers  # streamed
        lines, last = 0, b""
        async for chunk in resp.content.iter_any():
            lines, last = lines + chunk.count(b"\r\n"), chunk
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert last.endswith(b"\r\n") and b"ERROR" not in last  # a clean end
    return lines - 1, peak


async def test_the_export_streams_in_bounded_memory_and_says_when_it_stops(
        web: RoleWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "outage " + "x" * 1000
    await web.runtime.ingest([inbound(f"<b{i}@x>", f"{text} {i}", when=at(12 + i % 2, 8),
                                      authors=author(i % 50)) for i in range(1600)])
    monkeypatch.setattr(api, "EXPORT_PAGE", 100)
    half = await export_peak(web, q="outage", **{"from": "2026-11-13"})
    whole = await export_peak(web, q="outage")
    assert (half[0], whole[0]) == (800, 1600)
    assert whole[1] < half[1] * 1.3  # twice the rows (1.7 MB), about the same memory

    monkeypatch.setattr(api, "EXPORT_MAX", 300)
    capped = await (await web.client.get("/api/voc/export.csv", params={"q": "outage"},
                                         headers=web.auth(Role.MARKETING))).text()
    lines = list(csv.reader(io.StringIO(capped)))
    assert len(lines) == 1 + 300 + 1 and lines[-1] == [api.EXPORT_CAPPED]


async def test_marketing_meets_no_403_from_its_pages(web: RoleWeb) -> None:
    await plant(web)
    await web.sign_in(Role.MARKETING)
    seen: set[str] = set()
    for start in ("/voc?q=outage", "/voc", "/search?q=outage", "/search"):
        page = await (await web.client.get(start)).text()
        for link in set(re.findall(r'href="(/[^"]*)"', page)) - seen:
            seen.add(link)
            target = link.replace("&amp;", "&")
            if urlsplit(target).path.startswith("/static/"):
                continue
            resp = await web.client.get(target, allow_redirects=False)
            assert resp.status not in (401, 403, 404, 500), (start, link, resp.status)
    assert any(link.startswith("/voc?") for link in seen)
    found = await (await web.client.get("/search", params={"q": "outage -nobody"})).text()
    assert "<mark>Outage</mark>" in found and "<mark>nobody" not in found  # not excluded ones
