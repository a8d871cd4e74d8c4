"""docs/architecture.md names only modules that exist, and every package of the tree."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()


def test_every_path_the_page_names_exists() -> None:
    named = set(re.findall(r"`((?:inbox|connectors|search|web|tests)/[\w/.]*)", DOC))
    missing = sorted(p for p in named if not (ROOT / p.split(" ")[0]).exists())
    assert named and missing == []


def test_every_package_is_on_the_page() -> None:
    packages = {str(p.parent.relative_to(ROOT)) + "/" for p in ROOT.glob("*/**/__init__.py")
                if p.parts[len(ROOT.parts)] in ("inbox", "connectors", "search", "web")}
    assert sorted(p for p in packages if p not in DOC) == []
