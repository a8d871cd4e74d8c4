"""An agent's correction of a message's sentiment: the message's `sentiment` becomes the
agent's label (every count, facet, filter and report follows it), the model's own label and
score are kept in its meta, and a later re-enrichment (an edited X post) never overwrites it.

meta keys: model_sentiment, model_score (what the model said, before any correction),
corrected_by (the agent's name as the thread shows it), corrected_by_id, corrected_at (ISO).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from inbox.model import Direction, Message, User
from inbox.sentiment import LABELS

if TYPE_CHECKING:
    from inbox.store import Dump

CORRECTION_KEYS = ("model_sentiment", "model_score", "corrected_by", "corrected_by_id",
                   "corrected_at")
AGENT_SCORE = 1.0  # an agent's label: certain (sentiment_score is the label's confidence)
TSV_HEADER = ("lang", "label", "channel", "text")  # bench/sentiment_eval.read_labelled's


def is_corrected(msg: Message) -> bool:
    return bool(msg.meta.get("corrected_by_id"))


def corrected(msg: Message, label: str, actor: User, at: datetime) -> Message:
    """The message with the agent's label; the model's first label kept in its meta."""
    meta = dict(msg.meta)
    if not is_corrected(msg):
        meta.update(model_sentiment=msg.sentiment, model_score=msg.sentiment_score)
    meta.update(corrected_by=actor.name or actor.email, corrected_by_id=actor.id,
                corrected_at=at.isoformat())
    return replace(msg, sentiment=label, sentiment_score=AGENT_SCORE, meta=meta)


def keep_correction(earlier: Message, edited: Message) -> Message:
    """An edit of a stored message, enriched again: an agent's label stays; what the model
    now says of the new text is kept beside it."""
    if not is_corrected(earlier):
        return edited
    meta = {**edited.meta, **{k: earlier.meta[k] for k in CORRECTION_KEYS if k in earlier.meta},
            "model_sentiment": edited.sentiment, "model_score": edited.sentiment_score}
    return replace(edited, sentiment=earlier.sentiment,
                   sentiment_score=earlier.sentiment_score, meta=meta)


def customer_latest(messages: Sequence[Message]) -> Message | None:
    """The customer's latest message of a conversation (whose sentiment and language the
    conversation shows); automated mail is not the customer speaking."""
    spoken = [m for m in messages if m.direction == Direction.INBOUND and not m.automated]
    return max(reversed(spoken), key=lambda m: m.created_at, default=None)


def check_label(label: str) -> str | None:
    """The label as stored, or None when it is not one of LABELS."""
    clean = label.strip().lower()
    return clean if clean in LABELS else None


def tsv_rows(messages: Iterable[Message]) -> Iterator[str]:
    """The corrected messages among these as lines of the sentiment training TSV (lang,
    label, channel, text; line breaks written `\\n`, tabs as spaces), header first. A
    message without a language gets `und` (the all-languages model)."""
    yield "\t".join(TSV_HEADER) + "\n"
    for m in messages:
        if is_corrected(m) and m.sentiment in LABELS and m.text.strip():
            text = m.text.replace("\t", " ").replace("\r\n", "\n").replace("\r", "\n")
            yield "\t".join((m.lang or "und", m.sentiment, m.channel,
                             text.replace("\n", "\\n"))) + "\n"


async def corrected_messages(store: Dump, page: int = 1000) -> AsyncIterator[Message]:
    """Every message an agent corrected, in id order (the whole store is read, a page at a
    time: an occasional export for training, not a query)."""
    after: str | None = None
    while True:
        batch = await store.export("messages", after, page)
        for msg in batch:
            if is_corrected(msg):
                yield msg
        if len(batch) < page:
            return
        after = batch[-1].id
