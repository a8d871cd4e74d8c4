"""Language detection on the sentiment evaluation set's known languages (issue 13): accuracy
per language of py3langid (stock loader, the detector used before) and of fastText's lid.176.ftz
(inbox.language_fasttext), on the whole messages and on their first three and five words,
with load time and time per message.

    python -m bench.lang_eval [--data FILE.tsv]

Both detectors are restricted to the project's languages (inbox.enrich.LANGUAGES); a guess
under inbox.enrich.MIN_LANG_CONFIDENCE counts as wrong (ingest would store no language)."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.sentiment_eval import EVAL_SET, read_labelled
from inbox.enrich import LANGUAGES, MIN_LANG_CONFIDENCE
from inbox.language_fasttext import FastTextIdentifier

CUTS: dict[str, Callable[[str], str]] = {
    "whole": lambda t: t,
    "5 words": lambda t: " ".join(t.split()[:5]),
    "3 words": lambda t: " ".join(t.split()[:3]),
    "60 chars": lambda t: t[:60],
}
SHORT = 80  # characters: the messages this short are also counted apart, whole


def _py3langid() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(LANGUAGES)
    return identifier


def _guess(identifier: Any, text: str) -> str | None:
    lang, confidence = identifier.classify(text)
    return lang if confidence >= MIN_LANG_CONFIDENCE else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=EVAL_SET)
    rows = read_labelled(parser.parse_args().data)
    langs = sorted({r.lang for r in rows})
    detectors: list[tuple[str, Callable[[], Any]]] = [
        ("py3langid", _py3langid),
        ("fastText lid.176.ftz", lambda: FastTextIdentifier(LANGUAGES))]
    print(f"{len(rows)} messages; accuracy (a guess under {MIN_LANG_CONFIDENCE} is wrong)")
    print(f"| detector | text | load s | µs/msg | {' | '.join(langs)} | all |")
    for name, load in detectors:
        started = time.perf_counter()
        identifier = load()
        loaded = time.perf_counter() - started
        for cut_name, cut in CUTS.items():
            right, seen = Counter[str](), Counter[str]()
            started = time.perf_counter()
            for row in rows:
                seen[row.lang] += 1
                right[row.lang] += _guess(identifier, cut(row.text)) == row.lang
            per = (time.perf_counter() - started) / len(rows) * 1e6
            _line(name, cut_name, loaded, per, right, seen, langs)
        right, seen = Counter[str](), Counter[str]()
        for row in rows:
            if len(row.text) < SHORT:
                seen[row.lang] += 1
                right[row.lang] += _guess(identifier, row.text) == row.lang
        _line(name, f"< {SHORT} chars ({sum(seen.values())})", loaded, None, right, seen,
              langs)


def _line(name: str, cut: str, loaded: float, per: float | None, right: Counter[str],
          seen: Counter[str], langs: list[str]) -> None:
    cells = " | ".join(f"{right[lang] / seen[lang]:.3f}" if seen[lang] else "-"
                       for lang in langs)
    timed = "" if per is None else f"{per:.0f}"
    print(f"| {name} | {cut} | {loaded:.2f} | {timed} | {cells} | "
          f"{sum(right.values()) / sum(seen.values()):.3f} |")


if __name__ == "__main__":
    main()
