"""Paths a spec names are confined to one folder: the run folder, or the spec's folder.

A spec is data from anywhere (a pull request, the internet); it may name files, never
places outside its folder: no absolute paths, no `..`, no symlink that leads out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kerasspec.errors import RunError


def confine(base: Path, value: Any, path: str, *, what: str, folder: str) -> Path:
    """``base / value`` resolved (symlinks followed), or RunError KS704 if it leaves ``base``.

    ``what`` names the setting in messages; ``folder`` names ``base`` ("the run folder").
    """
    if not isinstance(value, str) or not value:
        raise RunError(f"{what} must be a path relative to {folder}, got {value!r}", code="KS203", path=path)
    root = base.resolve()  # an absolute path is judged like any other: by where it resolves
    target = (root / value).resolve()  # follows every symlink that exists on the way
    if not target.is_relative_to(root):
        raise RunError(f"{what} {value!r} leaves {folder} (it resolves to {target})", code="KS704", path=path,
                       hint=f"remove the `..` or the symlink: paths stay inside {folder} ({root})")
    return target
