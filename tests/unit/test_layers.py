"""The import contracts (pyproject, run by `lint-imports` in `make lint`) cover the whole
core: a new core subpackage must be listed, or its modules would escape the rule."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_core_subpackage_is_under_the_core_contract() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"]
    core = next(c for c in contracts if c["name"].startswith("The core imports nothing"))
    packages = {p.parent.relative_to(ROOT).as_posix().replace("/", ".")
                for p in (ROOT / "inbox").rglob("__init__.py")}
    wanted = {f"{p}.*" for p in packages if p != "inbox.app" and not p.startswith("inbox.app.")}
    assert wanted <= set(core["source_modules"])
