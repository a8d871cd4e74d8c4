"""A realistic, deterministic stream of inbound traffic for the demo and benchmarks.

`stream(now)` yields, in time order, the customer messages (as connectors would yield them)
of the demo brand over the `days` before `now`, each with the agent actions seeding replays
through the application afterwards (reply after some delay, resolve, assign, tag, note).
Pure: no I/O, no global random state; the same arguments give the same items. Memory stays
bounded by the messages of the few days in flight, so a million messages can be streamed.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from inbox.app.demo.identities import Identities, Person
from inbox.app.demo.messages import Messages
from inbox.app.demo.vocabulary import (
    ASK,
    BRAND_NAME,
    COUNTRIES,
    DEMO_AGENTS,
    DEVICES,
    EMOJI,
    EN_CHASE,
    EN_DMS,
    EN_FORMS,
    EN_GREET,
    EN_LONG,
    EN_PARAS,
    EN_RESPOND,
    EN_SHORT,
    EN_SIGN,
    EN_SUBJECTS,
    EN_SWITCH,
    EN_THANKS,
    EN_TWEETS,
    FIX,
    GLAD,
    HOLD,
    HOURLY,
    L10N,
    L10N_MISC,
    LISTENING_EN,
    LISTENING_L10N,
    LISTENING_RULES,
    LOCAL_TZ,
    MONTHS,
    NEED_INFO,
    NOTES,
    PLANS,
    PROVIDERS,
    SUPPORT_EMAIL,
    TO_EMAIL,
    TO_FORM,
    TOPICS,
    TOWNS,
    WEEKDAYS,
    WEEKEND,
    B,
)
from inbox.app.demo.wave import REPLY, WAVE_TOWN, wave
from inbox.model import Inbound

QUIET = timedelta(hours=1)  # what arrived this recently is not answered yet
# Measured on the demo month: per journey, customer messages (listening included) and
# stored messages (with the agents' replies and notes).
INBOUND_PER_JOURNEY = 1.95
MESSAGES_PER_JOURNEY = 3.8


@dataclass(frozen=True, slots=True)
class DemoItem:
    """One generated customer message and what the demo does with it afterwards."""

    inbound: Inbound  # the message as a connector would yield it
    reply_after: timedelta | None = None  # an agent answered this long after it arrived
    reply_text: str | None = None  # what the agent answered (set whenever reply_after is)
    resolve: bool = False  # the agent resolved the conversation with that reply
    assignee: str | None = None  # demo agent email the conversation is assigned to, or None
    tags: tuple[str, ...] = ()  # tags the agent put on the conversation
    note: str | None = None  # an internal note the agent left on the conversation
    merge_with: str | None = None  # this customer is merged into the one with this identity
    thread: int = 0  # the generator's thread number: one conversation's items share it


@dataclass(slots=True)
class _Step:
    """One customer message being drafted, and what the agent did about it."""

    inbound: Inbound
    reply_after: timedelta | None = None
    reply_text: str | None = None
    resolve: bool = False


class _Gen:
    def __init__(self, rng: random.Random, end: datetime, days: int) -> None:
        self.rng = rng
        self.end = end
        self.begin = end - timedelta(days=days)
        self.pending: list[tuple[datetime, str, str, DemoItem]] = []  # heap, by time
        self.messages = Messages(rng)
        self.threads = 0

    def emit(self, item: DemoItem) -> None:
        inbound = item.inbound
        heapq.heappush(self.pending, (inbound.created_at, inbound.channel, inbound.external_id,
                                      item))

    def ready(self, before: datetime | None) -> Iterator[DemoItem]:
        """The drafted items earlier than `before` (all with None), in time order."""
        while self.pending and (before is None or self.pending[0][0] < before):
            yield heapq.heappop(self.pending)[3]

    # -- time ------------------------------------------------------------------------------

    def when(self) -> datetime:
        """A moment in the window, following the daily and weekly rhythm."""
        rng, span = self.rng, (self.end - self.begin).total_seconds()
        while True:
            t = self.begin + timedelta(seconds=int(rng.random() * span))
            local = t.astimezone(LOCAL_TZ)
            weight = HOURLY[local.hour] * (WEEKEND if local.weekday() >= 5 else 1.0)
            if rng.random() < weight:
                return t

    def reply_delay(self, kind: str, t: datetime) -> timedelta:
        """How long the care team took to answer a message that arrived at `t`."""
        rng = self.rng
        social = kind in ("mention", "dm")
        median = 25 * 60 if social else 4 * 3600
        seconds = min(max(rng.lognormvariate(math.log(median), 1.15), 90), 1.5 * 86400)
        done = t + timedelta(seconds=seconds)
        local = done.astimezone(LOCAL_TZ)
        opens, closes = (7, 23) if social else (8, 18)
        if not opens <= local.hour < closes or (not social and local.weekday() == 6):
            nxt = local if local.hour < opens else local + timedelta(days=1)
            if not social and nxt.weekday() == 6:
                nxt += timedelta(days=1)
            nxt = nxt.replace(hour=opens, minute=rng.randint(0, 50), second=rng.randint(0, 59),
                              microsecond=0)
            done = nxt.astimezone(UTC)
        return timedelta(seconds=max(int((done - t).total_seconds()), 60))

    def customer_delay(self, kind: str) -> timedelta:
        median = 40 * 60 if kind in ("mention", "dm") else 3 * 3600
        return timedelta(seconds=int(min(self.rng.lognormvariate(math.log(median), 1.0),
                                         3 * 86400)))

    # -- text ------------------------------------------------------------------------------

    def slots(self, p: Person, t: datetime) -> dict[str, str]:
        rng = self.rng
        town, area = rng.choice(TOWNS)
        usual = rng.uniform(18, 75)
        paid = rng.choice((150, 500, 900, 80))
        return {
            "b": B, "first": p.first, "name": p.name, "handle": p.handle,
            "phone": _display_phone(p.phone or f"+447700900{rng.randint(0, 999):03d}"),
            "amount": f"{usual + rng.uniform(8, 60):.2f}", "usual": f"{usual:.2f}",
            "extra": rng.choice(("4.99", "7.50", "12.00", "15.99", "23.40", "36.00", "58.20")),
            "month": MONTHS[(t.month - 2) % 12],
            "date": (t - timedelta(days=rng.randint(2, 20))).strftime("%d/%m"),
            "day": WEEKDAYS[(t.weekday() - rng.randint(0, 3)) % 7],
            "time": rng.choice(("6am", "7am", "8am", "9am", "10am", "lunchtime", "midnight")),
            "plan": rng.choice(PLANS), "device": rng.choice(DEVICES),
            "account": f"NW{rng.randint(10**7, 10**8 - 1)}",
            "ref": f"CAS-{rng.randint(100000, 999999)}", "days": str(rng.randint(2, 12)),
            "hours": str(rng.randint(3, 30)), "town": town,
            "postcode": f"{area}{rng.randint(1, 20)} {rng.randint(1, 9)}"
                        f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}",
            "last4": f"{rng.randint(0, 9999):04d}", "country": rng.choice(COUNTRIES),
            "months": str(rng.randint(2, 9)), "paid": str(paid),
            "speed": str(max(2, int(paid * rng.uniform(0.03, 0.25)))),
            "old": rng.choice(PROVIDERS), "company": rng.choice(("Hartley Joinery", "Bluebell "
                                                                  "Cafe", "Kestrel Design")),
            "nth": rng.choice(("third", "fourth", "fifth")), "n": str(rng.randint(3, 7)),
            "mins": str(rng.randint(25, 95)), "years": str(rng.randint(2, 14)),
            "agent_first": rng.choice(DEMO_AGENTS)[1].split()[0],
        }

    def emoji(self, mood: str, chance: float = 0.55) -> str:
        if self.rng.random() < chance:
            return " " + "".join(self.rng.choices(EMOJI[mood], k=self.rng.choice((1, 1, 2))))
        return ""

    def opening(self, kind: str, topic: str, p: Person, slots: dict[str, str],
                switched_from: str | None, long: bool = False) -> tuple[str, str | None]:
        """(text, email subject) of the first message of a thread."""
        rng, mood = self.rng, TOPICS[topic][2]
        if p.lang != "en":
            loc = L10N[p.lang][topic]
            tweet = rng.choice(loc["tweet"])
            para = rng.choice(loc["para"])
            subject = rng.choice(loc["subject"]).format(**slots)
            misc = L10N_MISC[p.lang]
            if kind == "mention":
                return (tweet.format(**slots) + self.emoji(mood)), None
            if kind == "dm":
                return tweet.replace("{b} ", "").format(**slots), None
            if kind == "webform":
                return para.format(**slots), subject
            text = "\n\n".join((rng.choice(misc["greet"]), para, rng.choice(misc["sign"])))
            return text.format(**slots), subject
        switch = ""
        earlier = "x" if switched_from in ("mention", "dm") else switched_from
        if earlier is not None and (earlier, kind) in EN_SWITCH:
            switch = rng.choice(EN_SWITCH[earlier, kind])
        if kind == "mention":
            text = rng.choice(EN_TWEETS[topic])
            if switch:
                text = f"{B} {switch} " + text.replace("{b} ", "").replace(" {b}", "")
            text = text.format(**slots) + self.emoji(mood)
            return _clip(text, 280), None
        if kind == "dm":
            text = rng.choice(EN_DMS[topic])
            if switch:
                text = switch[0].upper() + switch[1:] + " " + text
            return text.format(**slots) + self.emoji(mood, 0.15), None
        subject = rng.choice(EN_SUBJECTS[topic]).format(**slots)
        if kind == "webform":
            text = rng.choice(EN_FORMS[topic] + EN_PARAS[topic])
            if switch:
                text = switch + " " + text
            return text.format(**slots), subject
        paras = list(EN_PARAS[topic])
        rng.shuffle(paras)
        body = paras if long else paras[: rng.choice((1, 1, 2, 2, 3))]
        if switch:
            body.insert(0, switch)
        if long:
            body += list(EN_LONG)
        tail = rng.choice(EN_SHORT)
        parts = [rng.choice(EN_GREET), *body, *([tail] if tail else []), rng.choice(EN_SIGN)]
        return "\n\n".join(parts).format(**slots), subject

    def follow_up(self, kind: str, p: Person, slots: dict[str, str], answered: bool,
                  closing: bool = False) -> str:
        """A customer's next message in a thread: answer, thanks (closing) or chaser."""
        rng = self.rng
        which = "thanks" if closing else "respond" if answered else "chase"
        if p.lang != "en":
            line = rng.choice(L10N_MISC[p.lang][which])
        else:
            line = rng.choice({"thanks": EN_THANKS, "respond": EN_RESPOND,
                               "chase": EN_CHASE}[which])
            if kind == "email":
                line = "\n\n".join((rng.choice(("Hi,", "Hello,", "Hi again,")), line,
                                    rng.choice(EN_SIGN)))
        text = line.format(**slots)
        if kind == "mention":
            text = f"{B} {text}" + self.emoji("neu" if answered else "neg", 0.3)
        return text

    def agent_text(self, kind: str, topic: str, p: Person, slots: dict[str, str], what: str,
                   agent: str | None) -> str:
        """The agent's reply. `what`: fix, hold, glad, ask (in the thread), to_dm, to_form,
        to_email."""
        rng = self.rng
        agent_name = dict(DEMO_AGENTS).get(agent or "", "Customer Care")
        initials = "".join(w[0] for w in agent_name.split()[:2]) if agent else "NM"
        if topic == "praise" and what in ("fix", "hold", "ask", "glad"):
            what = "praise"
        if p.lang != "en" and what in L10N_MISC[p.lang]:
            line = str(L10N_MISC[p.lang][what]).format(**slots)
            return f"{line} ^{initials}" if kind in ("mention", "dm") else line
        pool = {"fix": FIX[topic], "hold": HOLD, "ask": NEED_INFO, "to_dm": ASK,
                "to_form": TO_FORM, "to_email": TO_EMAIL, "glad": GLAD,
                "praise": FIX["praise"]}[what]
        body = rng.choice(pool).format(**slots)
        if kind in ("mention", "dm"):
            return _clip(f"Hi {p.first}, {body} ^{initials}", 280)
        thanks = "" if what in ("ask", "glad", "praise") else (
            f"Thank you for contacting {BRAND_NAME}. ")
        return (f"Hi {p.first},\n\n{thanks}{body[0].upper()}{body[1:]}\n\nKind regards,\n"
                f"{agent_name}\n{BRAND_NAME} Support")

    # -- journeys --------------------------------------------------------------------------

    def journey(self, p: Person, steps: list[str], t: datetime) -> None:
        """One customer's contact about one topic from `t`, over one or more channels."""
        rng = self.rng
        topics = list(TOPICS) if p.lang == "en" else list(L10N[p.lang])
        topic = rng.choices(topics, [TOPICS[k][0] for k in topics])[0]
        agent = rng.choice(DEMO_AGENTS)[0] if rng.random() > 0.05 else None
        tags: tuple[str, ...] = (TOPICS[topic][1],) if rng.random() < 0.85 else ()
        if topic in ("complaint", "contract") and rng.random() < 0.3:
            tags += ("churn-risk",)
        if rng.random() < 0.04:
            tags += ("vip",)
        if topic == "praise":
            steps = steps[:1]
        slots = self.slots(p, t)
        prev: str | None = None
        last_reply: str | None = None  # agent text the next step's email may quote
        for index, kind in enumerate(steps):
            if t > self.end:
                return
            nxt = steps[index + 1] if index + 1 < len(steps) else None
            # X and email hold nothing in common: an agent merges the two customers.
            merge = None
            if prev is not None and {prev, kind} & {"mention", "dm"} and \
                    {prev, kind} & {"email"}:
                merge = p.email.lower() if prev == "email" else "@" + p.handle
            t, last_reply = self.thread(p, kind, topic, slots, t, prev, nxt, agent, tags,
                                        last_reply, merge)
            prev = kind

    def thread(self, p: Person, kind: str, topic: str, slots: dict[str, str], t: datetime,
               prev: str | None, nxt: str | None, agent: str | None, tags: tuple[str, ...],
               quoted_reply: str | None, merge: str | None = None
               ) -> tuple[datetime, str | None]:
        """Draft one conversation; return when the customer moves on, and the last reply."""
        rng = self.rng
        self.threads += 1
        count = rng.choices((1, 2, 3, 4), (50, 31, 13, 6))[0]
        if kind == "webform" or topic == "praise":
            count = 1
        long = kind == "email" and p.lang == "en" and rng.random() < 0.04
        steps: list[_Step] = []
        conv: str | None = None
        last_tid: str | None = None
        mids: list[str] = []
        subject: str | None = None
        last_reply: str | None = None
        for i in range(count):
            if t > self.end:
                break
            final = i == count - 1
            answered = bool(steps) and steps[-1].reply_after is not None
            closing = final and nxt is None and answered and rng.random() < 0.35
            if i == 0 and kind == "email" and prev == "webform" and quoted_reply:
                text = self.follow_up(kind, p, slots, True)  # answers our email about the form
                subject = None
            elif i == 0 and kind == "dm" and prev == "mention" and p.lang != "en":
                text = self.follow_up(kind, p, slots, True)  # the details the agent asked for
            elif i == 0:
                text, subject = self.opening(kind, topic, p, slots, prev, long)
            else:
                text = self.follow_up(kind, p, slots, answered, closing)
            if kind == "mention":
                inbound = self.messages.tweet(p, t, text, conv=conv, parent=last_tid)
                conv = conv or inbound.external_id
                last_tid = inbound.external_id
            elif kind == "dm":
                inbound = self.messages.dm(p, t, text)
            elif kind == "webform":
                inbound = self.messages.form(p, t, text, subject, topic)
            else:
                quoted = None
                if i == 0 and quoted_reply and prev == "webform":
                    subject = f"Re: Your {BRAND_NAME} enquiry {slots['ref']}"
                    quoted = _quote(t - timedelta(hours=2), f"{BRAND_NAME} Support",
                                    SUPPORT_EMAIL, quoted_reply)
                elif i > 0 and answered and last_reply:
                    quoted = _quote(t - timedelta(hours=1), f"{BRAND_NAME} Support",
                                    SUPPORT_EMAIL, last_reply)
                elif i > 0:
                    quoted = _quote(steps[-1].inbound.created_at, p.name, p.email,
                                    steps[-1].inbound.text)
                subj = subject if i == 0 or (subject or "").startswith("Re:") else f"Re: {subject}"
                inbound = self.messages.email(p, t, text, subj or "(no subject)",
                                              parents=tuple(mids), quoted=quoted)
                mids.append(inbound.external_id)
            step = _Step(inbound)
            steps.append(step)
            # What the agent does, and when the customer writes next.
            respond = not final and rng.random() < 0.7
            age = self.end - t
            recent = age < timedelta(days=2)
            reply_chance = 0.6 if recent else 0.93
            fix_chance = 0.15 if recent else 0.45 if age < timedelta(days=7) else 0.72
            if final and nxt is not None:
                what = {"dm": "to_dm", "webform": "to_form", "email": "to_email"}.get(nxt, "hold")
                if kind == "webform" and nxt == "email":
                    what = "ask"  # answered by email; the customer replies to that email
                reply = rng.random() < 0.75
            elif closing:
                reply = rng.random() < 0.8
                what = "glad"
            elif final:
                reply = rng.random() < reply_chance
                what = "fix" if rng.random() < fix_chance else "hold"
            else:
                reply = respond
                what = "ask"
            if topic == "praise" and what in ("ask", "hold"):
                what = "fix"
            delay = self.reply_delay(kind, t) if reply else None
            if delay is not None and t + delay <= self.end and t < self.end - QUIET:
                step.reply_after = delay
                step.reply_text = self.agent_text(kind, topic, p, slots, what, agent)
                step.resolve = final and what in ("fix", "glad", "to_dm", "to_form", "to_email")
                last_reply = step.reply_text
                answered_at = t + delay
                if kind == "email" and rng.random() < 0.05:
                    self.out_of_office(p, answered_at, subject or "", mids)
                t = answered_at + self.customer_delay(kind)
            else:
                gap = self.customer_delay(kind).total_seconds() * rng.uniform(1.0, 3.0)
                t = t + timedelta(seconds=int(gap))
        note = rng.choice(NOTES[tags[-1]]) if tags and tags[-1] in NOTES else None
        for index, step in enumerate(steps):
            self.emit(DemoItem(
                inbound=step.inbound, reply_after=step.reply_after, reply_text=step.reply_text,
                resolve=step.resolve,
                assignee=agent if step.reply_after is not None or rng.random() < 0.6 else None,
                tags=tags if index == 0 else (), note=note if index == 0 else None,
                merge_with=merge if index == 0 else None, thread=self.threads))
        return t, last_reply

    def out_of_office(self, p: Person, t: datetime, subject: str, mids: list[str]) -> None:
        t += timedelta(seconds=self.rng.randint(5, 90))
        if t > self.end or not mids:
            return
        back = (t + timedelta(days=self.rng.randint(2, 10))).strftime("%d/%m")
        text = (f"Thank you for your email. I am out of the office until {back} with limited "
                f"access to email. For anything urgent please call me.\n\n{p.name}")
        self.emit(DemoItem(self.messages.email(
            p, t, text, f"Automatic reply: Re: {subject}", parents=tuple(mids), automated=True),
            thread=self.threads))


    def listening(self, p: Person, t: datetime) -> None:
        """A public post about the brand's subjects that does not address the brand."""
        slots = self.slots(p, t)
        pool = LISTENING_L10N[p.lang] if p.lang != "en" else LISTENING_EN
        text = self.rng.choice(pool).format(**slots)
        rule = next((r for r in LISTENING_RULES
                     if any(w in text.lower() for w in r.split(" OR "))), "northwind")
        self.emit(DemoItem(self.messages.tweet(p, t, text, listening=True, rule=rule)))


def generate(now: datetime, *, days: int = 30, seed: int = 7, customers: int = 120,
             journeys: int | None = None) -> list[DemoItem]:
    """The whole of `stream(...)` as a list (small runs: the demo month, tests)."""
    return list(stream(now, days=days, seed=seed, customers=customers, journeys=journeys))


def stream(now: datetime, *, days: int = 30, seed: int = 7, customers: int = 120,
           journeys: int | None = None) -> Iterator[DemoItem]:
    """`days` of inbound traffic ending at `now` (timezone-aware) from `customers` customers.

    `journeys` (a customer's contact about one topic; default about 7.8 per customer-month,
    at least one per customer) sets the volume: about INBOUND_PER_JOURNEY customer messages
    and MESSAGES_PER_JOURNEY stored messages each. Items come sorted by `inbound.created_at`;
    the same arguments always give the same items. Keyword-listening hits also come from a
    pool of public X accounts that are not customers.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if days < 1 or customers < 1:
        raise ValueError("days and customers must be at least 1")
    rng = random.Random(seed)
    end = now.astimezone(UTC).replace(microsecond=0)
    gen = _Gen(rng, end, days)
    ids = Identities(rng)

    # Exact shares, shuffled: about 30% of customers write on two or three channels.
    n_multi = max(1, round(customers * 0.3))
    mixes = _spread(rng, customers - n_multi, ((("email",), 46), (("x",), 40),
                                               (("webform",), 14)))
    mixes += _spread(rng, n_multi, ((("x", "webform"), 30), (("email", "webform"), 25),
                                    (("x", "email", "webform"), 45), (("x", "email"), 8)))
    rng.shuffle(mixes)
    people = [ids.person(channels) for channels in mixes]
    public = [ids.person(("x",)) for _ in range(max(3, customers // 3))]
    x_customers = [p for p in people if "x" in p.channels]
    talkers = public + x_customers[: len(public) // 3]

    count = max(customers, journeys or round(customers * days / 30 * 7.8))
    weights = [p.weight for p in people]
    owners = list(range(customers)) + rng.choices(range(customers), weights,
                                                  k=count - customers)
    # Every start drawn first, then run in time order: what a journey drafts is never
    # earlier than its start, so whatever is earlier than the next start is final.
    starts = [(gen.when(), index, owner) for index, owner in enumerate(owners)]
    starts += [(gen.when(), count + n, -1) for n in range(max(1, round(count * 1.84 * 0.06)))]
    # A few X messages just in, unanswered (1 hour target): half at risk already, half
    # turning at risk in the demo's first quarter of an hour.
    x_only = [n for n, p in enumerate(people) if p.channels == ("x",)]
    for n in range(max(2, customers // 40) if x_only else 0):
        low, high = (46, 52) if n % 2 == 0 else (30, 44)
        starts.append((end - timedelta(seconds=rng.randint(low * 60, high * 60)),
                       len(starts) + n, rng.choice(x_only)))
    starts.sort()
    # the complaint wave, one and a half days' customer messages on one morning (a town's
    # outage: at most 150 however big the demo): its own random numbers, the same ids never
    # drawn twice
    wave_messages = Messages(random.Random(seed + 1))
    wave_messages.used = gen.messages.used
    size = max(12, min(150, round(count * INBOUND_PER_JOURNEY / days * 1.5)))
    for inbound, answered in wave(people, wave_messages, end, days, seed, size):
        gen.threads += 1
        gen.emit(DemoItem(inbound, answered,
                          REPLY.format(town=WAVE_TOWN) if answered else None,
                          thread=gen.threads))
    first_seen: set[int] = set()
    for t, _, owner in starts:
        yield from gen.ready(t)
        if owner < 0:
            gen.listening(rng.choice(talkers), t)
            continue
        p = people[owner]
        steps = _plan(rng, p, multi_step=owner not in first_seen or rng.random() < 0.3)
        first_seen.add(owner)
        gen.journey(p, steps, t)
    yield from gen.ready(None)


def _spread(rng: random.Random, count: int,
            shares: tuple[tuple[tuple[str, ...], int], ...]) -> list[tuple[str, ...]]:
    """`count` channel mixes in proportion to `shares` (remainders drawn at random)."""
    total = sum(weight for _, weight in shares)
    out = [mix for mix, weight in shares for _ in range(count * weight // total)]
    out += rng.choices([mix for mix, _ in shares], [w for _, w in shares], k=count - len(out))
    return out


def _plan(rng: random.Random, p: Person, *, multi_step: bool) -> list[str]:
    """The channels, in order, a customer uses for one journey."""
    ch = p.channels
    if len(ch) > 1 and multi_step:
        options = {
            ("x", "webform"): (["mention", "dm", "webform"], ["mention", "webform"],
                               ["dm", "webform"], ["webform", "mention"]),
            ("email", "webform"): (["webform", "email"], ["email", "webform"]),
            ("x", "email"): (["mention", "email"], ["email", "mention"], ["dm", "email"]),
            ("x", "email", "webform"): (["mention", "webform", "email"],
                                        ["dm", "webform", "email"],
                                        ["mention", "dm", "webform"],
                                        ["webform", "email", "mention"]),
        }[ch]
        return list(rng.choice(options))
    channel = rng.choice(ch)
    if channel == "x":
        if rng.random() < 0.85:
            return ["mention", "dm"] if rng.random() < 0.12 else ["mention"]
        return ["dm"]
    return [channel]


def _quote(t: datetime, name: str, address: str, text: str) -> str:
    when = t.astimezone(LOCAL_TZ).strftime("%a, %d %b %Y at %H:%M")
    lines = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    return f"On {when}, {name} <{address}> wrote:\n{lines}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _display_phone(e164: str) -> str:
    return f"0{e164[3:7]} {e164[7:]}" if e164.startswith("+44") else e164
