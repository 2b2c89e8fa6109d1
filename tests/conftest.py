"""Shared fixtures. Keras is imported only by tests that need it, once per session."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def split_path(path: str) -> list[str | int]:
    """A spec path (``kerasspec.loader.join_path``'s) -> its keys and indexes, for tests that look values up."""
    parts: list[str | int] = []
    for match in re.finditer(r"\[(\d+)\]|\[(['\"])(.*?)\2\]|([^.\[\]]+)", path):
        index, _, quoted, plain = match.groups()
        parts.append(int(index) if index is not None else (quoted if quoted is not None else plain))
    return parts


@pytest.fixture(scope="session")
def keras_module():
    import keras

    return keras
