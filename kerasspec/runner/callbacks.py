"""`fit.callbacks` -> Keras callbacks confined to the run folder, plus the runner's own two.

- Every path argument (`filepath`, `log_dir`, `filename`, `backup_dir`, `directory`), given
  or defaulted (TensorBoard's `log_dir` is "logs"), is relative to the run folder and may
  not leave it, through `..` or a symlink; absolute paths are refused (KS704).
- ``EpochHistory`` records each epoch's logs in ``history.partial.json`` as the epoch
  ends, so a resumed run's history holds every epoch, not only those after the resume
  (Keras's History callback starts empty on every fit).
- A ``BackupAndRestore`` is always there (the spec's own, or one writing to
  ``<run>/backup``) and always last, so the history file never lags behind the backup.

This module imports Keras: import it only when a run starts.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import keras

from kerasspec.compiler.objects import ObjectFactory
from kerasspec.errors import RunError
from kerasspec.loader import join_path
from kerasspec.paths import confine
from kerasspec.registry import registered_name, resolve_class
from kerasspec.runner.artifacts import write_json

PATH_ARGS = ("filepath", "log_dir", "filename", "backup_dir", "directory")
FILE_ARGS = ("filepath", "filename")  # their parent folder is made; Keras makes the others itself
HISTORY_PARTIAL = "history.partial.json"
BACKUP_DIR = "backup"


def callback_class(entry: Any, path: str) -> type | None:
    type_name = entry if isinstance(entry, str) else entry.get("type") if isinstance(entry, dict) else None
    if not isinstance(type_name, str):
        return None
    return resolve_class("callbacks", type_name, path=path if isinstance(entry, str) else join_path(path, "type"))


def prepare_entries(entries: Any, run_dir: Path) -> list[Any]:
    """The spec's callback entries with their paths made absolute inside ``run_dir`` (no Keras objects yet)."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise RunError(f"fit.callbacks must be a list, got {entries!r}", code="KS103", path="fit.callbacks")
    prepared = []
    for i, entry in enumerate(entries):
        path = join_path("fit.callbacks", i)
        if isinstance(entry, str) and not registered_name(entry):
            entry = {"type": entry}  # `EarlyStopping`: the class with default arguments
        cls = callback_class(entry, path)
        if isinstance(entry, dict) and cls is not None:
            entry = dict(entry)
            params = inspect.signature(cls.__init__).parameters
            for arg in PATH_ARGS:
                if arg not in params:
                    continue
                value = entry.get(arg, params[arg].default)
                if value is inspect.Parameter.empty or value is None:
                    continue  # missing required argument: Keras says so when it is made
                arg_path = join_path(path, arg)
                target = confine(run_dir, value, arg_path, what=f"{entry['type']}'s {arg}", folder="the run folder")
                entry[arg] = str(target)
        prepared.append(entry)
    return prepared


def make_callbacks(entries: list[Any], factory: ObjectFactory | None = None) -> list[Any]:
    """Instantiate prepared entries (``prepare_entries``); BuildError at the spec path on failure."""
    factory = factory or ObjectFactory()
    made = []
    for i, entry in enumerate(entries):
        path = join_path("fit.callbacks", i)
        callback = factory.make("callbacks", entry, path)
        if not isinstance(callback, keras.callbacks.Callback):
            raise RunError(f"{entry!r} is not a Keras callback", code="KS201", path=path,
                           hint="callbacks are keras.callbacks classes, e.g. {type: EarlyStopping, patience: 5}")
        if isinstance(callback, keras.callbacks.TensorBoard):
            _need_tensorboard(path)
        made.append(callback)
    return made


def _need_tensorboard(path: str) -> None:
    """TensorBoard fails only when the first epoch ends if its package is missing: say so now."""
    try:
        import tensorboard  # noqa: F401
    except ImportError as exc:
        raise RunError(
            "the TensorBoard callback needs the tensorboard package, which is not installed",
            code="KS605",
            path=path,
            hint="pip install tensorboard (TensorFlow does not install it), or remove the TensorBoard callback",
        ) from exc


def make_parent_folders(callbacks: list[Any]) -> None:
    """CSVLogger (unlike ModelCheckpoint) does not make the folder of its file."""
    for callback in callbacks:
        for attr in FILE_ARGS:
            value = getattr(callback, attr, None)
            if isinstance(value, str) and "{" not in str(Path(value).parent):
                Path(value).parent.mkdir(parents=True, exist_ok=True)


class EpochHistory(keras.callbacks.Callback):
    """Each epoch's logs, saved to ``path`` when the epoch ends (and read back on resume).

    An epoch's record replaces any record of that epoch or later, so a run that restarts
    from its last backup (or from scratch, when there is none) rewrites what it repeats.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.records: list[dict[str, Any]] = []
        if self.path.is_file():
            self.records = json.loads(self.path.read_text(encoding="utf-8"))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        record = {"epoch": int(epoch), **{k: _number(v) for k, v in (logs or {}).items()}}
        self.records = [r for r in self.records if r["epoch"] < epoch] + [record]
        write_json(self.path, self.records)

    def history(self) -> dict[str, list[Any]]:
        """Metric -> one value per epoch, in epoch order (None where an epoch has no value,
        as validation metrics with validation_freq > 1)."""
        keys: list[str] = []
        for record in self.records:
            keys += [k for k in record if k != "epoch" and k not in keys]
        return {k: [r.get(k) for r in self.records] for k in keys}


def _number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def with_runner_callbacks(callbacks: list[Any], extra: list[Any], run_dir: Path) -> tuple[list[Any], EpochHistory, Any]:
    """The fit's callback list: the spec's, ``extra``, EpochHistory, then BackupAndRestore last."""
    backups = [c for c in callbacks if isinstance(c, keras.callbacks.BackupAndRestore)]
    others = [c for c in callbacks if not isinstance(c, keras.callbacks.BackupAndRestore)]
    if not backups:
        backups = [keras.callbacks.BackupAndRestore(backup_dir=str(run_dir.resolve() / BACKUP_DIR))]
    history = EpochHistory(run_dir / HISTORY_PARTIAL)
    return [*others, *extra, history, *backups], history, backups[0]


__all__ = [
    "BACKUP_DIR",
    "HISTORY_PARTIAL",
    "PATH_ARGS",
    "EpochHistory",
    "make_callbacks",
    "make_parent_folders",
    "prepare_entries",
    "with_runner_callbacks",
]
