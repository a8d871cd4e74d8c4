"""The demo's listening rules: the brand's two rules (its name, and the market's chatter the
generator's listening hits talk about) and two competitors', with a month of hits, so that
/listening shows volume, cost, share of voice and top hits. The competitors' posts are
drawn with their own random numbers (the rest of the demo stays as it was) and stored
through the Ingestor like any hit; each rule's daily rollup is written as the connector
would have written it."""

from __future__ import annotations

import random
import zlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from inbox.app.demo.messages import followers
from inbox.app.demo.vocabulary import LISTENING_RULES
from inbox.ingest import Ingestor
from inbox.model import Channel, IdentityKind, IdentityRef, Inbound, Message
from inbox.usecases.conversations import SYSTEM
from inbox.usecases.listening import ListeningRules

OURS, CHATTER = "Northwind", "Broadband and mobile chatter"
RULES = (  # name, X query, group
    (OURS, "northwind OR \"northwind mobile\" OR #northwind", "ours"),
    (CHATTER, "(broadband OR fibre OR 5G OR signal OR roaming OR \"switching provider\") "
              "-northwind lang:en", "ours"),
    ("Skyline Mobile", "\"skyline mobile\" OR @skylinemobile", "Competitor A"),
    ("Vela Telecom", "\"vela telecom\" OR @velatelecom", "Competitor B"),
)
COMPETITOR_POSTS = {
    "Skyline Mobile": (
        "Skyline Mobile has been great since I switched, 5G everywhere in {town}",
        "@skylinemobile no signal in {town} for two days now, useless",
        "Skyline Mobile just put my bill up again. Terrible value",
        "Loving the Skyline Mobile roaming deal, worked perfectly in Spain",
        "Still waiting for @skylinemobile to fix my broadband. Third call this week",
        "Skyline Mobile customer service sorted my issue in 5 minutes, impressed",
        "Anyone else on Skyline Mobile getting dropped calls in {town}?",
    ),
    "Vela Telecom": (
        "Vela Telecom fibre is fast but the router is awful",
        "@velatelecom charged twice this month and nobody answers",
        "Vela Telecom installed fibre in {town} today, smooth job",
        "Thinking of leaving Vela Telecom, the price rise is too much",
        "Vela Telecom app is so much better than the old one",
    ),
}
COMPETITOR_HITS = {"Skyline Mobile": 70, "Vela Telecom": 40}  # in a 30-day demo
TOWNS = ("Leeds", "Bristol", "Cardiff", "Norwich", "York")
READS_PER_HIT = 1.4  # X also serves posts a rule has already stored (another rule's)


def _posts(name: str, end: datetime, days: int, seed: int) -> list[Inbound]:
    rng = random.Random(f"{seed}:{name}")
    count = COMPETITOR_HITS[name] * days // 30
    out = []
    for n in range(count):
        at = end - timedelta(seconds=rng.randint(600, days * 86400))
        handle = f"{name.split()[0].lower()}_fan{rng.randint(1, 40)}"
        user = str(3_000_000_000 + zlib.crc32(handle.encode()) % 1_000_000)
        text = rng.choice(COMPETITOR_POSTS[name]).format(town=rng.choice(TOWNS))
        post = f"{name[:2].lower()}{seed}{n:05d}"
        out.append(Inbound(
            channel=Channel.X, external_id=f"demo-{post}", text=text, created_at=at,
            authors=(IdentityRef(IdentityKind.X, user, label=handle),), author_name=handle,
            thread_keys=(f"x:tweet:demo-{post}",), lang="en", listening=True,
            meta={"kind": "tweet", "username": handle, "followers": followers(handle),
                  "rule": name, "url": f"https://x.com/{handle}/status/demo-{post}"}))
    return out


async def plant(rules: ListeningRules, ingestor: Ingestor, hits: Sequence[Message],
                end: datetime, days: int, seed: int) -> None:
    """The demo's rules, the competitors' hits, and every rule's daily rollup."""
    made = {name: await rules.create(SYSTEM, name, query, group, audited=False)
            for name, query, group in RULES}
    found: dict[str, list[Message]] = defaultdict(list)
    for message in hits:  # the generator's hits name the topic they were found by
        found[OURS if message.meta.get("rule") == LISTENING_RULES[0] else CHATTER].append(
            message)
    for name in COMPETITOR_HITS:
        result = await ingestor.ingest(_posts(name, end, days, seed), visible=False)
        found[name] += result.stored
    for name, messages in found.items():
        rule_id = made[name]["id"]
        by_day: dict[str, list[Message]] = defaultdict(list)
        for message in messages:
            by_day[message.created_at.date().isoformat()].append(message)
        for day, day_hits in sorted(by_day.items()):
            await rules.record(rule_id, day, round(len(day_hits) * READS_PER_HIT), day_hits)
        await rules.prioritize(messages)
