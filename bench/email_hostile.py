"""Worst-case cost of parsing each hostile mail (run by hand; reports, asserts nothing).

    python -m bench.email_hostile [--repeat 3]

Every item of the hostile corpus (tests/data/email/hostile) is parsed in a fresh child
process, so the peak memory reported is that item's own. ``--child FILE`` is that child: it
prints one JSON line. With ``--caps`` it first limits its own address space to 512 MB above
what it uses and its CPU time to about 2 s more; tests/unit/test_email_limits.py runs it so.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
ADDRESS_SPACE_ABOVE_USE = 512 * 1024 * 1024
CPU_SECONDS_ABOVE_USE = 2


def _cap_self() -> None:
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    space = pages * resource.getpagesize() + ADDRESS_SPACE_ABOVE_USE
    resource.setrlimit(resource.RLIMIT_AS, (space, space))
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime) + CPU_SECONDS_ABOVE_USE
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _reset_peak() -> int:
    """Reset this process's peak RSS to its current RSS (KB), which is returned.

    ru_maxrss would not do: across exec it keeps the parent's peak.
    """
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def child(path: Path, caps: bool, repeat: int) -> dict[str, Any]:
    """Parse one file `repeat` times: the slowest wall and CPU time, and the peak memory growth."""
    from connectors.email_parse import EmailParseError, parse_message

    raw = path.read_bytes()
    if caps:
        _cap_self()
    before = _reset_peak()
    wall = cpu = 0.0
    outcome: Any = None
    peak = 0.0
    for n in range(repeat):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        try:
            outcome = sorted(parse_message(raw).inbound.meta.get("limits", []))
        except EmailParseError:
            outcome = "dead letter"
        wall = max(wall, time.perf_counter() - start_wall)
        cpu = max(cpu, time.process_time() - start_cpu)
        if n == 0:  # later runs would count the allocator's leftovers of earlier ones
            peak = (_status_kb("VmHWM") - before) / 1024
    return {"bytes": len(raw), "outcome": outcome, "wall": wall, "cpu": cpu, "peak_mb": peak}


def run_child(path: Path, *, caps: bool = False, repeat: int = 1
              ) -> subprocess.CompletedProcess[str]:
    """Run `child` in a fresh interpreter on this checkout's code."""
    command = [sys.executable, "-m", "bench.email_hostile", "--child", str(path),
               "--repeat", str(repeat)] + (["--caps"] if caps else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", type=Path)
    parser.add_argument("--caps", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.caps, args.repeat)))
        return
    from tests.data.email.hostile.corpus import corpus

    print(f"{os.cpu_count()} cores; slowest of {args.repeat} parses per item, one process each")
    print(f"{'item':28} {'size':>10} {'wall s':>7} {'CPU s':>7} {'peak MB':>8}  limits hit")
    with tempfile.TemporaryDirectory() as folder:
        for item in corpus():
            path = Path(folder) / f"{item.name}.eml"
            path.write_bytes(item.raw)
            done = run_child(path, repeat=args.repeat)
            if done.returncode:
                print(f"{item.name:28} failed: {done.stderr.strip()[-200:]}")
                continue
            r = json.loads(done.stdout)
            outcome = r["outcome"] if isinstance(r["outcome"], str) else \
                ", ".join(r["outcome"]) or "-"
            print(f"{item.name:28} {r['bytes']:>10,} {r['wall']:>7.3f} {r['cpu']:>7.3f} "
                  f"{r['peak_mb']:>8.1f}  {outcome}")


if __name__ == "__main__":
    main()
