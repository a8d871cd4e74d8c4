"""The demo's satisfaction surveys: every conversation the agents resolved during the replay
is surveyed at the end of it, and some customers answer (most satisfied, a few not: those
tell the managers), so /reports shows CSAT by channel, agent and day."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

from inbox.usecases.csat import Surveys

ANSWERED = 0.45  # of the customers surveyed
SCORES = ((5, 45), (4, 30), (3, 10), (2, 8), (1, 7))  # score, weight
COMMENTS = {5: ("Quick and friendly, thank you!", None), 4: ("Sorted, thanks.", None),
            3: ("Took a while but it works now.", None),
            2: ("I had to explain everything twice.", None),
            1: ("Three days for a simple answer. Not good enough.", None)}
_TOKEN = re.compile(r"/csat/([A-Za-z0-9_-]+)")


async def plant(surveys: Surveys, now: datetime, seed: int) -> int:
    """Send the queued surveys as of `now` and answer some; returns how many were answered."""
    await surveys.sweep(now + timedelta(minutes=surveys.settings.delay_minutes), 1_000_000)
    store, rng = surveys.store, random.Random(seed)
    sent = [doc["message_id"] for _, doc in await surveys.documents()
            if doc["state"] == "sent" and doc["message_id"]]
    messages = await store.messages_by_ids(sent)
    answered = 0
    for message_id in sent:
        found = _TOKEN.search(messages[message_id].text) if message_id in messages else None
        if found is None or rng.random() > ANSWERED:
            continue
        score = rng.choices([s for s, _ in SCORES], [w for _, w in SCORES])[0]
        await surveys.answer(found.group(1), score, rng.choice(COMMENTS[score]))
        answered += 1
    return answered

