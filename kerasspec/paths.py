"""Paths a spec names are confined to one folder: the run folder, or the spec's folder.

A spec is data from anywhere (a pull request, the internet); it may name files, never
places outside its folder: no absolute paths, no `..`, no symlink that leads out. A path
is judged by where it resolves, so a refusal never depends on whether the file exists
(no existence oracle for places outside the folder).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kerasspec.errors import RunError, one_line

# The run folder's own records (the runner writes them; a callback may not).
RUN_FILES = ("spec.yaml", "run.json", "model.keras", "history.json", "history.csv", "history.png", "metrics.json",
             "transforms.json", "model.png", "model.dot", "exported.yaml", "history.partial.json",
             "model.onnx", "saved_model")  # the last two: `run --serve` (kerasspec/serve.py SERVED_NAMES)
BACKUP_DIR = "backup"  # the runner's own BackupAndRestore folder
# Callback arguments that name files or folders, relative to the run folder; of them, those that name a file.
CALLBACK_PATH_ARGS = ("filepath", "log_dir", "filename", "backup_dir", "directory")
CALLBACK_FILE_ARGS = ("filepath", "filename")
# A format field Keras may fill into ModelCheckpoint's filepath (`str.format(epoch=..., **logs)` at save time):
# a name, no attribute, index or conversion, and a short numeric format; else fields reach attributes, or
# build a 1 GB string. validate/settings.py checks each field; the JSON Schema states the whole path.
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_FORMAT = r"[<>=^]?[+\- ]?0?[0-9]{0,2}(?:\.[0-9]{1,2})?[deEfFgGn%]?"
FIELD_NAME = re.compile(f"^{_NAME}$")
FIELD_FORMAT = re.compile(f"^{_FORMAT}$")
# The same rule for a whole path, as the JSON Schema states it (schema.py).
FORMATTED_PATH_PATTERN = f"^(?:[^{{}}]|\\{{\\{{|\\}}\\}}|\\{{{_NAME}(?::{_FORMAT})?\\}})*$"


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


def within(path: str, folder: str) -> bool:
    """Whether a normalized relative path is ``folder`` or inside it."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def confine(base: Path, value: Any, path: str, *, what: str, folder: str) -> Path:
    """``base / value`` resolved (symlinks followed), or RunError KS704 if it leaves ``base``.

    ``what`` names the setting in messages; ``folder`` names ``base`` ("the run folder").
    A value that is no path at all (not a string, empty, or holding a NUL byte) is KS203.
    """
    if not isinstance(value, str) or not value or "\0" in value:
        raise RunError(f"{what} must be a path relative to {folder}, got {value!r}", code="KS203", path=path,
                       hint=f"write a file name relative to {folder}")
    try:
        root = base.resolve()  # an absolute path is judged like any other: by where it resolves
        target = (root / value).resolve()  # follows every symlink that exists on the way
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a name too long
        raise RunError(f"{what} {value!r} cannot be resolved inside {folder}: {one_line(exc, 300)}", code="KS704", path=path,
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


# Where callbacks may write: one rule for validate (paths as written) and the runner (paths as they resolve).
CallbackPlace = tuple[str, str, str, bool, bool]  # spec path, what, path relative to the run folder, is a backup folder, is a file


def callback_place_problems(places: list[CallbackPlace]) -> list[tuple[str, str, str]]:
    """(spec path, message, hint) for each callback path that would write over the run's own records.

    Paths are relative to the run folder, normalized (``normal_relative``). Refused: the run folder
    itself, one of its records (``spec.yaml``, ``run.json``, ...), anything inside a backup folder
    (BackupAndRestore deletes it; without one the runner keeps ``backup/``) or inside another
    callback's file.
    """
    backups = [(rel, what) for _, what, rel, is_backup, _ in places if is_backup] or [(BACKUP_DIR, f"the run's backup folder {BACKUP_DIR!r}")]
    found = []
    for index, (path, what, rel, is_backup, is_file) in enumerate(places):
        if rel == ".":
            found.append((path, f"{what} is the run folder itself", "name a file or folder inside it, e.g. logs/epochs.csv or tensorboard"))
            continue
        first = rel.split("/", 1)[0]
        if first in RUN_FILES:
            found.append((path, f"{what} is the run's own {first}, which the runner writes", "choose another name, e.g. logs/epochs.csv"))
            continue
        backup = next((folder_what for folder, folder_what in backups if not (is_backup and rel == folder) and within(rel, folder)), None)
        if backup is not None:
            found.append((path, f"{what} lies inside {backup}, which is deleted with the backup",
                          "write callback files beside the backup folder, not in it"))
            continue
        for _, other_what, other, _, other_is_file in places[:index]:
            if other_is_file and rel == other and is_file:
                found.append((path, f"{what} is also written by {other_what}", "give each callback its own file"))
                break
        else:
            inside_file = next((other_what for other_path, other_what, other, _, other_is_file in places
                                if other_is_file and other_path != path and rel != other and within(rel, other)), None)
            if inside_file is not None:
                found.append((path, f"{what} lies inside {inside_file}, a file", "give each callback its own file or folder"))
    return found




def output_problem(target: Path, *, force: bool, suffixes: tuple[str, ...] = (), what: str = "file") -> str | None:
    """Why an output file cannot be written where the user asked (checked before any work), or None.

    Never creates folders: the folder must exist. An existing file needs ``force``; a folder is never replaced.
    """
    if suffixes and target.suffix.lower() not in suffixes:
        return f"{target}: a {what} must end in {', '.join(suffixes)}"
    if target.is_dir():
        return f"{target} is a folder; name a {what} in it"
    if not target.parent.is_dir():
        return f"{target}: no such folder {target.parent}; create it first"
    if target.exists() and not force:
        return f"{target} exists; pass --force to replace it"
    return None


__all__ = ["callback_place_problems", "confine", "inside", "output_problem"]
