"""`inbox sentiment-corrections` writes the messages agents corrected as training TSV rows
(lang, label, channel, text) that bench/train_sentiment.py --also reads; never into the
evaluation set."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench import train_sentiment
from bench.sentiment_eval import EVAL_SET, read_labelled
from inbox.app.cli import main
from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from inbox.model import IdentityRef, User
from tests.factories import CHEAP_ARGON2, inbound

pytestmark = pytest.mark.integration
DANA = User("u-dana", "dana@example.com", "agent", "-", name="Dana")


async def _corrected(env: dict[str, str]) -> None:
    """Two customer mails; an agent marks the first negative."""
    runtime = Runtime(load_config(None, env), env)
    await runtime.start()
    try:
        texts = ("Where is my parcel?\nOrder\t12", "Fine, thanks")
        stored = (await runtime.ingest([
            inbound(f"<{n}@x>", text, authors=(IdentityRef("email", f"c{n}@example.com"),))
            for n, text in enumerate(texts)])).stored
        await runtime.conversations.correct_sentiment(stored[0].conversation_id,
                                                      stored[0].id, "negative", DANA)
    finally:
        await runtime.aclose()


def test_corrections_are_exported_for_training(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    env = {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false",
           **CHEAP_ARGON2}
    asyncio.run(_corrected(env))
    assert main(["sentiment-corrections", "--tsv"], env) == 0
    out, err = capsys.readouterr()
    assert out == ("lang\tlabel\tchannel\ttext\n"
                   "und\tnegative\temail\tWhere is my parcel?\\nOrder 12\n")
    assert "1 corrected messages" in err
    path = tmp_path / "corrections.tsv"
    assert main(["sentiment-corrections", "--out", str(path)], env) == 0
    (row,) = read_labelled(path)
    assert (row.label, row.text) == ("negative", "Where is my parcel?\nOrder 12")

    assert main(["sentiment-corrections", "--out", str(tmp_path / EVAL_SET.name)], env) == 2
    assert not (tmp_path / EVAL_SET.name).exists()
    with pytest.raises(SystemExit):
        train_sentiment.main(["--also", str(EVAL_SET), "--out", str(tmp_path / "m.json")])
    assert not (tmp_path / "m.json").exists()
