"""The sentiment model (inbox.sentiment) on the evaluation set (issue 13): accuracy and macro-F1
per language and overall, the confusion matrix, and the time per message.

    python -m bench.sentiment_eval [--limit N] [--unknown-language | --detect-language]
                                   [--data FILE.tsv]

--limit N scores N messages of each language, evenly spaced through the file. The evaluation
set is for measuring only: never train or tune on it (bench/train_sentiment.py reads the
training set)."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inbox.enrich import Enricher
from inbox.sentiment import LABELS, SentimentModel, sentiment_model

DATA = Path(__file__).parents[1] / "tests" / "data"
EVAL_SET = DATA / "sentiment_eval.tsv"


@dataclass(frozen=True, slots=True)
class Labelled:
    lang: str
    label: str
    channel: str
    text: str  # `\n` turned back into line breaks


def read_labelled(path: Path) -> list[Labelled]:
    """The rows of a sentiment TSV (header lang, label, channel, text)."""
    rows = []
    with path.open(encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header != ["lang", "label", "channel", "text"]:
            raise ValueError(f"{path}: unexpected header {header}")
        for line in f:
            if line.strip():
                lang, label, channel, text = line.rstrip("\n").split("\t", 3)
                rows.append(Labelled(lang, label, channel, text.replace("\\n", "\n")))
    return rows


def sample_per_language(rows: Sequence[Labelled], limit: int) -> list[Labelled]:
    """`limit` rows of each language, evenly spaced through the file (which may be
    sorted by label), in file order."""
    by_lang: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_lang.setdefault(row.lang, []).append(i)
    kept = sorted(idx[j * len(idx) // limit] for idx in by_lang.values()
                  for j in range(min(limit, len(idx))))
    return [rows[i] for i in kept]


@dataclass(frozen=True, slots=True)
class Scores:
    n: int
    accuracy: float
    macro_f1: float
    confusion: dict[tuple[str, str], int]  # (true, predicted) -> count


def score(truth: Sequence[str], predicted: Sequence[str]) -> Scores:
    """Accuracy, macro-F1 over the three labels, and the confusion matrix."""
    confusion = Counter(zip(truth, predicted, strict=True))
    f1s = []
    for label in LABELS:
        tp = confusion[(label, label)]
        fp = sum(confusion[(t, label)] for t in LABELS if t != label)
        fn = sum(confusion[(label, p)] for p in LABELS if p != label)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    right = sum(confusion[(label, label)] for label in LABELS)
    return Scores(len(truth), right / len(truth) if truth else 0.0, sum(f1s) / len(f1s),
                  dict(confusion))


@dataclass(frozen=True, slots=True)
class Evaluation:
    by_lang: dict[str, Scores]  # per language, and "all"
    seconds_per_message: float


def evaluate(rows: Sequence[Labelled], model: SentimentModel | None = None,
             lang_known: bool = True) -> Evaluation:
    """The model's scores on `rows`, each scored with its own language (or, not
    `lang_known`, as a message whose language is unknown: every language's phrases)."""
    model = model or sentiment_model()
    started = time.perf_counter()
    found = [model(row.text, row.lang if lang_known else None) for row in rows]
    elapsed = time.perf_counter() - started
    return _scores(rows, [s.label if s else "neutral" for s in found], elapsed)


def evaluate_enrichment(rows: Sequence[Labelled]) -> Evaluation:
    """As on ingest: the language detected (inbox.enrich), then the sentiment."""
    enrich = Enricher()
    enrich("warm-up")
    started = time.perf_counter()
    found = [enrich(row.text) for row in rows]
    elapsed = time.perf_counter() - started
    return _scores(rows, [e.sentiment or "neutral" for e in found], elapsed)


def _scores(rows: Sequence[Labelled], predicted: Sequence[str], elapsed: float) -> Evaluation:
    by_lang = {}
    for lang in sorted({r.lang for r in rows}) + ["all"]:
        pairs = [(r.label, p) for r, p in zip(rows, predicted, strict=True)
                 if lang in ("all", r.lang)]
        by_lang[lang] = score([t for t, _ in pairs], [p for _, p in pairs])
    return Evaluation(by_lang, elapsed / max(1, len(rows)))


def report(evaluation: Evaluation) -> str:
    lines = ["| language | messages | accuracy | macro-F1 |", "|---|---|---|---|"]
    for lang, s in evaluation.by_lang.items():
        lines.append(f"| {lang} | {s.n} | {s.accuracy:.3f} | {s.macro_f1:.3f} |")
    overall = evaluation.by_lang["all"].confusion
    lines += ["", "confusion (rows: true label, columns: predicted)",
              "| | " + " | ".join(LABELS) + " |", "|---|---|---|---|"]
    for t in LABELS:
        lines.append(f"| {t} | " + " | ".join(str(overall.get((t, p), 0)) for p in LABELS)
                     + " |")
    lines.append(f"\n{evaluation.seconds_per_message * 1e6:.0f} µs per message "
                 "(models loaded; one core)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0,
                        help="score only N messages of each language, evenly spaced")
    parser.add_argument("--data", type=Path, default=EVAL_SET)
    parser.add_argument("--unknown-language", action="store_true",
                        help="score every message as one of unknown language")
    parser.add_argument("--detect-language", action="store_true",
                        help="as on ingest: detect the language first (time included)")
    args = parser.parse_args(argv)
    rows = read_labelled(args.data)
    if args.limit:
        rows = sample_per_language(rows, args.limit)
    model = sentiment_model()
    model("warm-up", "en")
    if args.detect_language:
        print(report(evaluate_enrichment(rows)))
    else:
        print(report(evaluate(rows, model, lang_known=not args.unknown_language)))


if __name__ == "__main__":
    main()
