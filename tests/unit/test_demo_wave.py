"""The demo's complaint wave, found as a marketer would: on the demo data the VoC's chart
peaks on the wave's day, and trending for that day shows the outage and the town."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from inbox.app.config import load as load_config
from inbox.app.demo.generator import generate
from inbox.app.demo.seed import seed
from inbox.app.demo.vocabulary import LOCAL_TZ
from inbox.app.demo.wave import WAVE_DAYS_BEFORE, WAVE_TOPIC, WAVE_TOWN
from inbox.app.runtime import Runtime
from inbox.model import Role
from inbox.usecases.search import date_range
from tests.factories import CHEAP_ARGON2

NOW = datetime(2026, 11, 20, 15, 30, 45, tzinfo=UTC)
WAVE_DAY = (NOW.astimezone(LOCAL_TZ) - timedelta(days=WAVE_DAYS_BEFORE)).date()


def test_the_wave_is_one_morning_of_angry_posts_and_mails() -> None:
    items = [i.inbound for i in generate(NOW, days=7)]
    wave = [m for m in items if WAVE_TOPIC in m.text.lower() and WAVE_TOWN in m.text]
    assert len(wave) >= 12
    assert {m.created_at.astimezone(LOCAL_TZ).date() for m in wave} == {WAVE_DAY}
    assert {m.channel for m in wave} == {"x", "email"}
    assert not any(WAVE_TOWN in m.text and WAVE_TOPIC in m.text.lower()
                   for m in (i.inbound for i in generate(NOW, days=3)))  # too short a demo


async def test_the_voc_finds_the_wave_on_its_chart_and_in_trending(tmp_path: Path) -> None:
    env = {"INBOX_STORE": f"sqlite:///{tmp_path / 'demo.db'}", **CHEAP_ARGON2}
    runtime = Runtime(load_config(None, env), env, channels=False)
    await runtime.start()
    try:
        await seed(runtime, now=NOW, days=7)
        marketer = next(u for u in await runtime.accounts.users() if u.role == Role.MARKETING)
        search = runtime.search
        week = await search.voc(marketer, await search.parse("", marketer), "day", ())
        peak = max(week.volume, key=lambda b: b[1])
        assert peak[0] == WAVE_DAY.isoformat()
        negative = dict((b, c["negative"]) for b, c in week.sentiments)
        assert max(negative, key=lambda b: negative[b]) == WAVE_DAY.isoformat()

        that_day = date_range(await search.parse("", marketer), WAVE_DAY, WAVE_DAY)
        found = await search.voc(marketer, that_day, "day", ())
        terms = [t.term for t in found.trending.terms[:5]]
        assert WAVE_TOPIC in terms and WAVE_TOWN.lower() in terms, terms
        assert found.comparison.change() > 0 and found.comparison.change("negative") > 0
        assert found.trending.period.start == WAVE_DAY == date.fromisoformat(
            found.volume[0][0])
        # the outage is an incident, its customers' conversations linked, on both channels
        [outage] = await runtime.incidents.all()
        view = await runtime.incidents.view(outage["id"])
        assert WAVE_TOWN in outage["title"] and set(view.channels) == {"x", "email"}
        assert len(view.members) >= 10 and view.last_update is None
    finally:
        await runtime.aclose()
