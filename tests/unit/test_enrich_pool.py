"""Enrichment in a worker process: the same languages and sentiments as in the ingesting
process, which never loads the models once the workers run (a web form's single item goes
to the worker too); an item whose enrichment fails set aside alone; a dead worker's batch
enriched in the ingesting process and the worker replaced; no worker left behind by a
killed process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from inbox.enrich import Enricher, Enrichment
from inbox.enrich_pool import MIN_PART, EnricherPool
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.sla import SlaPolicy
from search.sqlite import SqliteStore
from tests.factories import at, inbound

ROOT = Path(__file__).parents[2]
TEXTS = ("This is terrible, my internet has been down for a week",
         "Bonjour, je n'ai plus de réseau depuis hier soir",
         "Thank you so much, great service from the team!",  # fastText calls the
         # shorter "Thank you so much, great service!" Spanish (bench/README, language detection)
         "Hola, no tengo señal desde ayer en casa",
         "ok")


def _batch(size: int) -> list:  # type: ignore[type-arg]
    return [inbound(f"<{i}@x>", f"{TEXTS[i % len(TEXTS)]} ({i})", when=at(1 + i % 20))
            for i in range(size)]


async def test_a_large_batch_is_enriched_in_a_worker_as_in_process(
        sqlite_store: SqliteStore) -> None:
    enricher = Enricher()
    pool = EnricherPool(enricher, workers=1)
    ingestor = Ingestor(sqlite_store, enrich=enricher, sla=SlaPolicy(), events=EventBus(),
                        enrich_many=pool.many)
    batch = [inbound(f"<w{i}@x>", f"{TEXTS[i % len(TEXTS)]} [{i}]")
             for i in range(MIN_PART * 2)]
    try:
        result = await ingestor.ingest(batch)
    finally:
        pool.close(wait=True)
    assert len(result.stored) == len(batch) and not result.dead
    by_ext = {m.external_id: m for m in result.stored}
    for item in batch:
        expected = enricher(item.text)
        got = by_ext[item.external_id]
        assert (got.lang, got.sentiment, got.sentiment_score) == \
            (expected.lang, expected.sentiment, expected.score)
    stored = await sqlite_store.conversation_messages(result.stored[0].conversation_id)
    assert stored[0].lang == by_ext[stored[0].external_id].lang


class _Failing(Enricher):
    def __call__(self, text: str, lang: str | None = None) -> Enrichment:
        if "(7)" in text:
            raise ValueError("the model choked")
        return super().__call__(text, lang)


async def test_an_item_failing_enrichment_apart_is_dead_lettered_alone(
        sqlite_store: SqliteStore) -> None:
    enricher = _Failing()
    pool = EnricherPool(enricher, workers=0)  # the batch's enrichments, in this process
    ingestor = Ingestor(sqlite_store, enrich=enricher, sla=SlaPolicy(), events=EventBus(),
                        enrich_many=pool.many)
    result = await ingestor.ingest(_batch(40))
    assert [(d.external_id, d.stage) for d in result.dead] == [("<7@x>", "enrich")]
    assert len(result.stored) == 39
    assert all(m.lang is not None for m in result.stored if "ok (" not in m.text)
    assert (await sqlite_store.counts())["messages"] == 39


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it is not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_a_killed_ingesting_process_leaves_no_worker_behind() -> None:
    script = ("from inbox.enrich_pool import shared_pool\n"
              "import time\n"
              "if __name__ == '__main__':\n"
              "    pool = shared_pool(1)\n"
              "    pool.wait_ready()\n"
              "    print(*pool.start()._processes, flush=True)\n"
              "    time.sleep(120)\n")
    with subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                          text=True) as parent:
        assert parent.stdout is not None
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert workers and all(_alive(pid) for pid in workers)
        parent.kill()
    deadline = time.monotonic() + 30  # a generous bound: the workers check every second
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)


async def test_an_edit_in_the_same_batch_keeps_its_own_enrichment(
        sqlite_store: SqliteStore) -> None:
    enricher = Enricher()
    pool = EnricherPool(enricher, workers=0)
    ingestor = Ingestor(sqlite_store, enrich=enricher, sla=SlaPolicy(), events=EventBus(),
                        enrich_many=pool.many)
    post = inbound("100", "Thank you so much, great service!", channel="x", revision="100")
    edit = inbound("100", "This is terrible, my internet has been down for a week",
                   channel="x", revision="101", when=at(3))
    result = await ingestor.ingest([post, edit])
    stored = await sqlite_store.conversation_messages(result.stored[0].conversation_id)
    assert [(m.text, m.sentiment) for m in stored] == [(edit.text, "negative")]
    assert result.stored[0].sentiment == "positive" and result.updated[0].sentiment == "negative"


async def test_a_worker_that_dies_is_replaced_and_its_batch_enriched_here() -> None:
    enricher = Enricher()
    pool = EnricherPool(enricher, workers=1)
    items = [(text, None) for text in TEXTS]
    try:
        pool.wait_ready()
        (first,) = pool.start()._processes
        os.kill(first, signal.SIGKILL)
        expected = [enricher(text) for text in TEXTS]
        assert await asyncio.gather(pool.many(items), pool.many(items[:2])) == \
            [expected, expected[:2]]  # two batches in flight when it died: both enriched
        assert await pool.many(items[:1]) == [enricher(TEXTS[0])]  # by a new worker
        (second,) = pool.start()._processes
        assert second != first and _alive(second)
    finally:
        pool.close(wait=True)


SERVED = textwrap.dedent("""
    import asyncio, multiprocessing, sys
    from dataclasses import replace
    from datetime import UTC, datetime
    from inbox.app.config import load
    from inbox.model import IdentityRef, Inbound
    from inbox.app.runtime import Runtime

    async def main(path, role):
        env = {"INBOX_STORE": f"sqlite:///{path}"}  # enrichment on, 1 worker: the defaults
        runtime = Runtime(load(None, env), env, channels=False)
        await runtime.start()
        if role == "all":  # as `inbox serve` starts it with the pollers
            runtime.start_enrichment()
        try:
            receipt = await runtime.forms.submit("contact", {
                "name": "Ann", "email": "ann@example.com",
                "message": "Thank you so much, the new router works great!"})
            conv = await runtime.conversations.by_reference(int(receipt["reference"]))
            (msg,) = await runtime.store.conversation_messages(conv.id)
            post = Inbound("x", "100", (IdentityRef("x", "200"),),
                           "Thank you so much, great service!", datetime.now(UTC),
                           revision="100")
            await runtime.ingest([post])
            edit = replace(post, text="This is terrible, my internet is down again",
                           revision="101")
            (edited,) = (await runtime.ingest([edit])).updated
        finally:
            await runtime.aclose()
        print(msg.lang, msg.sentiment, edited.sentiment, "fasttext" in sys.modules,
              len(multiprocessing.active_children()))

    if __name__ == "__main__":
        asyncio.run(main(*sys.argv[1:]))
""")


@pytest.mark.parametrize(("role", "expected"), [
    ("all", ["en", "positive", "negative", "False", "1"]),  # web + pollers: the worker enriches
    ("web", ["en", "positive", "negative", "True", "0"]),  # web only: no worker kept for web forms
])
def test_a_web_form_post_is_enriched_by_the_worker_once_the_pollers_started_it(
        tmp_path: Path, role: str, expected: list[str]) -> None:
    """A single item (a web form, an IDLE push) goes to the worker the pollers started: the
    serving process never loads the models; a web-only server enriches it itself."""
    done = subprocess.run([sys.executable, "-c", SERVED, str(tmp_path / "inbox.db"), role],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == expected
