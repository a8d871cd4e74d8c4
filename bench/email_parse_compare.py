"""Does parsing give what an older version gave? Field by field (run by hand).

    git archive a28a3e2 | tar -x -C /tmp/before
    python -m bench.email_parse_compare /tmp/before [--messages 5000] [--mutations 3000]
        [--also DIR]  # more mail: every *.eml in DIR (bench.capture_mail keeps the tests')

Loads the older tree's connectors/email_parse.py, email_text.py, email_limits.py and
inbox/normalize.py as a package of their own (the rest, inbox.model included, is this
tree's) and parses with both: the bench's mailbox (CRLF, LF, re-delivered, fetched in
part), every file of the test corpus (hostile ones included) and of CPython's email test
data (both line ends), the hostile corpus, and mail mutated at random (cut, bytes flipped,
lines dropped, doubled or added, line ends changed). What a parse worker sends back is
compared: parse_message's Inbound, field by field, then that Inbound normalised as the
worker does, field by field, and what this tree's worker (email_pool.parse_fetched) sends
for it; the blobs (and the attachments the worker writes); errors (type and text, and the
worker's dead letter).
Fields are compared by repr (so 1 and True, or a list and a tuple, differ) and by ==.
Differences are printed, the exit status is 1 if there is any.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.email import mailbox, redelivered
from connectors import email_parse
from connectors.email_config import Endpoint, MailboxConfig
from connectors.email_pool import ParseJob, parse_fetched
from inbox.normalize import normalize_inbound
from tests.data.email.hostile.corpus import corpus

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DATA = Path(__file__).parent.parent / "tests" / "data" / "email"
STDLIB = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
MODULES = ("email_limits", "email_text", "email_parse")  # of connectors/
RECEIVED = datetime(2026, 11, 22, 12, 5, tzinfo=UTC)  # when the worker got the mail
ODD_LINES = [b"--", b"", b"\r", b"From x", b" cont", b"X: y", b"QUJD", b"--=====", b"=?utf-8?q?x?="]


def load_old(tree: Path) -> ModuleType:
    """The older tree's email_parse, its sibling modules renamed into a package of their own."""
    package = Path(tempfile.mkdtemp(prefix="parse-before-")) / "old_connectors"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in MODULES:
        source = (tree / "connectors" / f"{name}.py").read_text()
        (package / f"{name}.py").write_text(
            re.sub(r"\bconnectors\.email_", "old_connectors.email_", source))
    (package / "normalize.py").write_text((tree / "inbox" / "normalize.py").read_text())
    sys.path.insert(0, str(package.parent))
    import old_connectors.email_parse as old  # type: ignore[import-not-found]
    import old_connectors.normalize  # type: ignore[import-not-found]

    old.normalize_inbound = old_connectors.normalize.normalize_inbound
    return old


def worker_result(parse_message: Any, normalize_inbound: Any, raw: bytes, size: int | None
                  ) -> tuple[Any, ...]:
    """("ok", Inbound, blobs, the Inbound as a parse worker sends it) or ("error", ...)."""
    try:
        parsed = parse_message(raw, now=NOW, size=size)
        inbound = parsed.inbound
        sent = normalize_inbound(replace(inbound, meta={
            **inbound.meta, "mailbox": "support", "folder": "INBOX", "imap_uid": 7}), RECEIVED)
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))
    return ("ok", inbound, dict(parsed.blobs), sent)


class _Blobs:
    """An AttachmentWriter that keeps what it is given."""

    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}

    def write(self, ref: str, data: bytes) -> None:
        self.kept[ref] = data

    def path(self, ref: str) -> Path:
        raise ValueError(ref)


JOB_CONFIG = MailboxConfig(name="support", imap=Endpoint("imap", "plain", "127.0.0.1", 143))


def sent_now(raw: bytes, size: int | None) -> tuple[Any, ...]:
    """What this tree's parse worker sends back (email_pool.parse_fetched) for the mail, as
    worker_result gives it, errors as the worker words them."""
    blobs = _Blobs()
    parsed, dead = parse_fetched(ParseJob(JOB_CONFIG, blobs), {7: raw},
                                 {7: size} if size is not None else {}, RECEIVED)
    if dead:
        return ("dead", dead[0][1])
    return ("ok", parsed[0][1], blobs.kept)


def dead_text(outcome: tuple[Any, ...]) -> str:
    """The dead letter's text parse_fetched gives for worker_result's error."""
    _, kind, text = outcome
    return text if kind == "EmailParseError" else f"parser failed: {kind}: {text}"


def _unequal(a: Any, b: Any) -> bool:
    return repr(a) != repr(b) or a != b


def difference(old: Any, raw: bytes, size: int | None = None) -> str | None:
    before = worker_result(old.parse_message, old.normalize_inbound, raw, size)
    after = worker_result(email_parse.parse_message, normalize_inbound, raw, size)
    if before[0] != after[0] or before[0] == "error":
        if before == after and sent_now(raw, size) == ("dead", dead_text(before)):
            return None
        return f"{before!r:.300} != {after!r:.300} (worker {sent_now(raw, size)!r:.300})"
    differ = [f.name for f in fields(before[1])
              if _unequal(getattr(before[1], f.name), getattr(after[1], f.name))]
    differ += [f"sent {f.name}" for f in fields(before[3])
               if _unequal(getattr(before[3], f.name), getattr(after[3], f.name))]
    if _unequal(before[2], after[2]):
        differ.append("blobs")
    worker = sent_now(raw, size)
    if worker[0] != "ok":
        differ.append(f"the worker dead-letters it: {worker[1]:.200}")
    else:
        clock = "date_problem" in before[3].meta  # the worker dates it now (no now given)
        differ += [f"worker {f.name}" for f in fields(before[3])
                   if not (clock and f.name == "created_at")
                   and _unequal(getattr(before[3], f.name), getattr(worker[1], f.name))]
        if clock and abs(worker[1].created_at - datetime.now(UTC)) > timedelta(minutes=1):
            differ.append("worker created_at (not now)")
        if _unequal(before[2], worker[2]):
            differ.append("worker blobs")
    return f"fields differ: {differ}" if differ else None


def mutated(raw: bytes, rng: random.Random) -> bytes:
    how = rng.randrange(7)
    if how == 0:
        return raw[:rng.randrange(len(raw))]
    if how == 1:
        flipped = bytearray(raw)
        for _ in range(rng.randint(1, 20)):
            flipped[rng.randrange(len(raw))] = rng.randrange(256)
        return bytes(flipped)
    if how == 5:
        return raw.replace(b"\r\n", b"\r", rng.randint(1, 50))
    if how == 6:
        return raw.replace(b"\r\n", b"\n")
    lines = raw.split(b"\n")
    at = rng.randrange(len(lines))
    if how == 2:
        del lines[at]
    elif how == 3:
        lines.insert(at, lines[at])
    else:
        lines.insert(at, rng.choice(ODD_LINES))
    return b"\n".join(lines)


def items(messages: int, mutations: int, also: Path | None = None
          ) -> Iterator[tuple[str, bytes, int | None]]:
    lf = mailbox(messages)
    crlf = [raw.replace(b"\n", b"\r\n") for raw in lf]
    yield from ((f"bench {n}", raw, None) for n, raw in enumerate(crlf))
    yield from ((f"bench LF {n}", raw, None) for n, raw in enumerate(lf[:1000]))
    for n, raw in enumerate(crlf[:500]):
        yield f"re-delivered {n}", redelivered(raw, n), None
    for n, raw in enumerate(crlf[:300]):
        yield f"partial {n}", raw[:len(raw) // 2], len(raw)
    files = sorted(DATA.glob("*.eml")) + sorted(DATA.glob("*.bin")) + \
        sorted(DATA.glob("hostile/*.eml")) + sorted(STDLIB.glob("msg_*"))
    small = crlf[:2000]
    for path in files:
        raw = path.read_bytes()
        small.append(raw)
        yield path.name, raw, None
        yield f"{path.name} CRLF", raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), None
    for path in sorted(also.glob("*.eml")) if also else []:
        yield f"also {path.name}", path.read_bytes(), None
    for item in corpus(oversized_bytes=17 * 1024 * 1024):
        yield f"hostile {item.name}", item.raw, None
    rng = random.Random(7)
    for n in range(mutations):
        yield f"mutated {n}", mutated(rng.choice(small), rng), None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path, help="a checkout of the older version")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--mutations", type=int, default=3000)
    parser.add_argument("--also", type=Path, help="a directory of more mail (*.eml)")
    args = parser.parse_args(argv)
    old = load_old(args.before)
    start, count, differ = time.perf_counter(), 0, 0
    for name, raw, size in items(args.messages, args.mutations, args.also):
        count += 1
        found = difference(old, raw, size)
        if found:
            differ += 1
            print(f"{name}: {found}", flush=True)
    print(f"{count} mails compared, {differ} differ ({time.perf_counter() - start:.0f} s)")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
