"""Paths a spec names are confined to one folder: the run folder, or the spec's folder.

A spec is data from anywhere (a pull request, the internet); it may name files, never
places outside its folder: no absolute paths, no `..`, no symlink that leads out. A path
is judged by where it resolves, so a refusal never depends on whether the file exists
(no existence oracle for places outside the folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kerasspec.errors import RunError


def confine(base: Path, value: Any, path: str, *, what: str, folder: str) -> Path:
    """``base / value`` resolved (symlinks followed), or RunError KS704 if it leaves ``base``.

    ``what`` names the setting in messages; ``folder`` names ``base`` ("the run folder").
    A value that is no path at all (not a string, empty, or holding a NUL byte) is KS203.
    """
    if not isinstance(value, str) or not value or "\0" in value:
        raise RunError(f"{what} must be a path relative to {folder}, got {value!r}", code="KS203", path=path)
    try:
        root = base.resolve()  # an absolute path is judged like any other: by where it resolves
        target = (root / value).resolve()  # follows every symlink that exists on the way
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a name too long
        raise RunError(f"{what} {value!r} cannot be resolved inside {folder}: {exc}", code="KS704", path=path,
                       hint=f"paths are plain names relative to {folder}") from exc
    if not target.is_relative_to(root):
        raise RunError(f"{what} {value!r} leaves {folder} (it resolves to {target})", code="KS704", path=path,
                       hint=f"remove the `..` or the symlink: paths stay inside {folder} ({root})")
    return target


def inside(base: Path, target: Path) -> bool:
    """Whether ``target`` (as it resolves) is ``base`` or inside it."""
    try:
        return Path(target).resolve().is_relative_to(Path(base).resolve())
    except (OSError, RuntimeError, ValueError):
        return False


__all__ = ["confine", "inside"]
