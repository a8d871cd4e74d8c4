"""Real servers for the tests, started on 127.0.0.1 and stopped after."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(why: str) -> NoReturn:
    """A server or package a test needs is missing: skip locally, fail under CI=true."""
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)
