"""Each hostile mail is parsed in a child process under a memory and a CPU limit it must meet.

The child reads one item, then caps its own address space (RLIMIT_AS: 512 MB above what it
uses then) and CPU time (RLIMIT_CPU: about 2 s more), parses, and reports its peak memory
growth. Past either limit the kernel or MemoryError ends it, and the test fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.data.email.hostile.corpus import corpus

ROOT = Path(__file__).parent.parent.parent
MEMORY_MB = 64  # what one message may add to the parser's peak memory ("about": 1.25x slack)
CHILD = """
import json, resource, sys, time
from connectors.email_parse import EmailParseError, parse_message
raw = open(sys.argv[1], "rb").read()
pages = int(open("/proc/self/statm").read().split()[0])
vm = pages * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (vm + 512 * 2**20, vm + 512 * 2**20))
used = resource.getrusage(resource.RUSAGE_SELF)
cpu_limit = int(used.ru_utime + used.ru_stime) + 2
resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit, cpu_limit + 1))
start = time.process_time()
try:
    outcome = sorted(parse_message(raw).inbound.meta.get("limits", []))
except EmailParseError:
    outcome = "dead"
after = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"outcome": outcome, "cpu": time.process_time() - start,
                  "peak_mb": (after.ru_maxrss - used.ru_maxrss) / 1024}))
"""


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for item in corpus():
        paths[item.name] = folder / f"{item.name}.eml"
        paths[item.name].write_bytes(item.raw)
    return paths


@pytest.mark.parametrize("name", [i.name for i in corpus(oversized_bytes=0)])
def test_each_hostile_mail_parses_within_memory_and_cpu_caps(name: str,
                                                             items: dict[str, Path]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(items[name])], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{name} broke the caps: {done.returncode} {done.stderr[-500:]}"
    report = json.loads(done.stdout)
    assert report["peak_mb"] < MEMORY_MB * 1.25, report
