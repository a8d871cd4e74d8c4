"""The cost of hiding contacts (run by hand): `python -m bench.redaction [--days 30]`.

Times `inbox.privacy.redact` and `public_copy` (what every message write computes) over
the text and subject of the demo corpus, and over texts full of contacts. Reports figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime

from inbox.app.demo.generator import generate
from inbox.privacy import public_copy, redact

CONTACTS = ("Call me on 07700 900144 or +1 (212) 555-0134, or write to "
            "florentine.quixote@privatebox.example (order NW11556911 of 2026-11-02).")


def per_text(fn: Callable[[str], str | None], texts: list[str], rounds: int = 5) -> float:
    """Microseconds per text, best of `rounds` passes."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for text in texts:
            fn(text)
        best = min(best, time.perf_counter() - start)
    return best / len(texts) * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--days", type=int, default=30)
    args = p.parse_args()
    items = generate(datetime.now(UTC), days=args.days, customers=300)
    texts = [t for i in items for t in (i.inbound.text, i.inbound.subject) if t]
    average = sum(map(len, texts)) / len(texts)
    print(f"{len(texts)} demo texts and subjects, {average:.0f} characters on average")
    for name, fn in (("redact", redact), ("public_copy", public_copy)):
        print(f"{name:12} demo corpus {per_text(fn, texts):6.1f} µs/text   "
              f"with 4 contacts ({len(CONTACTS)} chars) {per_text(fn, [CONTACTS] * 2000):6.1f} µs")
    long_text = " ".join(texts)[:100_000]
    print(f"redact of {len(long_text):,} characters of demo text: "
          f"{per_text(redact, [long_text], 3) / 1000:.1f} ms")


if __name__ == "__main__":
    main()
