"""CPU of parsing the email bench's mail, by kind (run by hand; reports, asserts nothing).

    python -m bench.email_parse [--messages 5000] [--repeat 3] [--profile FILE]
    python -m bench.email_parse --against OLD_TREE [--messages 5000] [--repeat 5]

Builds the mailbox of ``bench.email`` (plain, alternative, HTML only, attachments, replies,
RFC 2047 subjects, several charsets) with CRLF line ends, as IMAP delivers it, and parses
every mail with ``parse_message`` in this process, no IMAP and no store: CPU time per mail
by kind (best of ``--repeat`` rounds), and the size of what a parse worker pickles back
(``email_pool.parse_fetched``'s result) per mail.

With ``--against`` (a checkout of an older version, loaded as bench.email_parse_compare
does): the CPU of what a parse worker does per mail (parse_message, then normalize_inbound)
with the older code and with this tree's, rounds taking turns (best of each).
"""

from __future__ import annotations

import argparse
import cProfile
import pickle
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench.email import mailbox

_CTYPE = re.compile(rb"^Content-Type:\s*([\w/-]+)", re.IGNORECASE | re.MULTILINE)


def kind_of(raw: bytes) -> str:
    """plain, alternative, html or attachment, from the top-level Content-Type."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    found = _CTYPE.search(head)
    ctype = found.group(1).lower() if found else b"text/plain"
    return {b"multipart/mixed": "attachment", b"multipart/alternative": "alternative",
            b"text/html": "html"}.get(ctype, "plain")


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def measure(raws: list[bytes], repeat: int) -> dict[str, tuple[int, float]]:
    """kind -> (mails, best CPU seconds of one round over them)."""
    from connectors.email_parse import parse_message

    kinds = [kind_of(r) for r in raws]
    best: dict[str, float] = {}
    for _ in range(repeat):
        spent: dict[str, float] = defaultdict(float)
        for raw, kind in zip(raws, kinds, strict=True):
            start = time.process_time()
            parse_message(raw)
            spent[kind] += time.process_time() - start
        for kind, seconds in spent.items():
            best[kind] = min(best.get(kind, seconds), seconds)
    counts = {k: kinds.count(k) for k in best}
    return {k: (counts[k], best[k]) for k in sorted(best)}


def pickled_bytes(raws: list[bytes]) -> int:
    """Bytes of the pickled (uid, Inbound) list a parse worker sends back for these mails."""
    from dataclasses import replace

    from connectors.email_parse import parse_message

    parsed = []
    for uid, raw in enumerate(raws, start=1):
        inbound = parse_message(raw).inbound
        parsed.append((uid, replace(inbound, meta={**inbound.meta, "mailbox": "support",
                                                   "folder": "INBOX", "imap_uid": uid})))
    return len(pickle.dumps((parsed, []), protocol=pickle.HIGHEST_PROTOCOL))


def against(tree: Path, raws: list[bytes], repeat: int) -> None:
    """Print the CPU per mail of a worker's parse with the older tree's code and this one's."""
    from bench.email_parse_compare import load_old, worker_result
    from connectors.email_parse import parse_message
    from inbox.normalize import normalize_inbound

    old = load_old(tree)
    sides = {"before": (old.parse_message, old.normalize_inbound),
             "after": (parse_message, normalize_inbound)}
    best = dict.fromkeys(sides, float("inf"))
    for _ in range(repeat):
        for name, (parse, normalize) in sides.items():
            start = time.process_time()
            for raw in raws:
                worker_result(parse, normalize, raw, None)
            best[name] = min(best[name], time.process_time() - start)
    for name, seconds in best.items():
        print(f"{name:<7} {seconds / len(raws) * 1e6:6.1f} us/mail (parse and normalise, "
              f"best of {repeat})")
    print(f"after / before: {best['after'] / best['before']:.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of one round to this file")
    parser.add_argument("--against", type=Path, help="a checkout of an older version")
    args = parser.parse_args(argv)
    raws = [crlf(r) for r in mailbox(args.messages)]
    print(f"python {sys.version.split()[0]}, {len(raws)} mails, "
          f"{sum(map(len, raws)) / 1e6:.1f} MB", flush=True)
    if args.against:
        against(args.against, raws, args.repeat)
        return
    if args.profile:
        from connectors.email_parse import parse_message

        profiler = cProfile.Profile()
        profiler.enable()
        for raw in raws:
            parse_message(raw)
        profiler.disable()
        profiler.dump_stats(args.profile)
        print(f"profile written to {Path(args.profile).resolve()}")
    results = measure(raws, args.repeat)
    total_n = total_s = 0.0
    for kind, (n, seconds) in results.items():
        total_n += n
        total_s += seconds
        print(f"{kind:<12} {n:>6} mails  {seconds:6.2f} s CPU  {seconds / n * 1e3:6.3f} ms/mail")
    print(f"{'all':<12} {total_n:>6.0f} mails  {total_s:6.2f} s CPU  "
          f"{total_s / total_n * 1e3:6.3f} ms/mail")
    size = pickled_bytes(raws[:1000])
    print(f"pickled result of a worker: {size / min(1000, len(raws)):.0f} bytes/mail")


if __name__ == "__main__":
    main()
