"""Each hostile mail is parsed in a child process under a memory and a CPU limit it must meet.

The child (bench.email_hostile --child --caps) reads one item, then caps its own address
space (RLIMIT_AS: 512 MB above its use) and CPU time (RLIMIT_CPU: about 2 s more), parses,
and reports its peak memory growth. Past either limit the kernel or a MemoryError ends it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.email_hostile import run_child
from tests.data.email.hostile.corpus import corpus

MEMORY_MB = 64  # what one message may add to the parser's peak memory ("about": 1.25x slack)


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
    done = run_child(items[name], caps=True)
    assert done.returncode == 0, f"{name} broke the caps: {done.returncode} {done.stderr[-500:]}"
    report = json.loads(done.stdout)
    assert report["peak_mb"] < MEMORY_MB * 1.25, report
