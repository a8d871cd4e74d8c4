"""The demo's complaint wave: on one morning two days before the end, a burst of angry posts
and mails about a broadband outage in one town, for the VoC to find (a spike on its chart,
"outage" and the town in trending). Drawn with its own random numbers, so the rest of the
demo stays as it was; a few of the messages are answered, most are not yet."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from inbox.app.demo.identities import Person
from inbox.app.demo.messages import Messages
from inbox.app.demo.vocabulary import BRAND_HANDLE, LOCAL_TZ
from inbox.model import Inbound

WAVE_TOPIC = "outage"
WAVE_TOWN = "Leeds"
WAVE_DAYS_BEFORE = 2  # the wave's day: this many days before the demo's end (local)
MIN_DAYS = 4  # a shorter demo has no wave (no quiet days before it to compare with)

POSTS = (
    "@{brand} total outage in {town} since 7am, no internet at all. Useless.",
    "@{brand} is there an outage in {town}? Router says no connection, again!!",
    "Whole street in {town} offline. @{brand} outage and no word from you. Terrible.",
    "@{brand} third hour of this outage in {town}. Working from home is impossible. Awful",
    "@{brand} outage in {town} AGAIN. Still waiting for any update. Worst provider ever",
    "No broadband in {town} this morning, @{brand} outage page says nothing. Angry.",
    "@{brand} your {town} outage has cost me a day of work. I want compensation.",
    "@{brand} still down in {town}. An outage with no ETA is not acceptable.",
)
MAILS = (
    ("Outage in {town}", "Our internet has been down since early this morning. Your status "
     "page shows nothing about an outage in {town}. This is unacceptable, I work from home "
     "and have lost a whole day. Please tell me when it will be fixed."),
    ("No internet - {town} outage?", "Is there an outage in {town}? Nothing works, the "
     "router light is red and your phone line keeps me on hold for an hour. Very poor "
     "service."),
    ("Complaint: outage", "This is the second outage in {town} this month. I am still "
     "waiting for an explanation and I expect a refund for the days without service."),
)
REPLY = ("Sorry: there is a network outage in the {town} area. Our engineers are on it and "
         "we will post updates here.")


def wave(people: Sequence[Person], messages: Messages, end: datetime, days: int,
         seed: int, size: int) -> list[tuple[Inbound, timedelta | None]]:
    """`size` messages of the wave (in no order), each with how long after it an agent answered
    (None: not yet); none for a demo of fewer than MIN_DAYS days or without English-speaking
    customers on X and email."""
    english = [p for p in people if p.lang == "en"]
    tweeters = [p for p in english if "x" in p.channels]
    mailers = [p for p in english if "email" in p.channels]
    if days < MIN_DAYS or not tweeters or not mailers:
        return []
    rng = random.Random(seed * 7919 + 13)
    day = (end.astimezone(LOCAL_TZ) - timedelta(days=WAVE_DAYS_BEFORE)).replace(
        hour=7, minute=0, second=0, microsecond=0)
    slots = {"brand": BRAND_HANDLE, "town": WAVE_TOWN}
    out: list[tuple[Inbound, timedelta | None]] = []
    for n in range(size):
        t = day + timedelta(seconds=rng.randint(0, 6 * 3600))
        answered = timedelta(minutes=rng.randint(20, 240)) if n % 4 == 0 else None
        if n % 3 == 2:
            subject, body = rng.choice(MAILS)
            inbound = messages.email(rng.choice(mailers), t, body.format(**slots),
                                     subject.format(**slots))
        else:
            inbound = messages.tweet(rng.choice(tweeters), t,
                                     rng.choice(POSTS).format(**slots))
        out.append((inbound, answered))
    return out
