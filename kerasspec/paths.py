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

# The run folder's own records (the runner writes them; a callback may not).
RUN_FILES = ("spec.yaml", "run.json", "model.keras", "history.json", "history.csv", "history.png", "metrics.json",
             "transforms.json", "model.png", "model.dot", "exported.yaml", "history.partial.json")
BACKUP_DIR = "backup"  # the runner's own BackupAndRestore folder
# Callback arguments that name files or folders, relative to the run folder.
CALLBACK_PATH_ARGS = ("filepath", "log_dir", "filename", "backup_dir", "directory")


def normal_relative(value: str) -> str:
    """A relative path as written, normalized (`a/../b` -> `b`, `logs/..` -> `.`), with `/` separators."""
    import posixpath

    return posixpath.normpath(value.replace("\\", "/"))


def leaves_folder(value: Any) -> bool:
    """Whether a path leaves its folder as written (absolute, a drive, or `..` past the top); symlinks are `confine`'s."""
    if not isinstance(value, str) or not value or "${" in value:
        return False
    normal = normal_relative(value)
    return normal.startswith("/") or normal == ".." or normal.startswith("../") or (len(value) > 1 and value[1] == ":")


def run_record(value: str) -> str | None:
    """What of the run's own a callback path would write over: the folder itself or one of its records; else None."""
    normal = normal_relative(value)
    if normal == ".":
        return "the run folder itself"
    if normal in RUN_FILES:
        return f"the run's own {normal}"
    return None


def within(path: str, folder: str) -> bool:
    """Whether a normalized relative path is ``folder`` or inside it."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


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
