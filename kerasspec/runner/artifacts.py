"""The run folder and the files in it, each written under a temporary name and renamed.

``atomic_path`` is the one way a file gets into a run folder: the writer (our own code,
``model.save``, matplotlib, Graphviz, the runner's ModelCheckpoint and BackupAndRestore)
writes to a hidden temporary name beside the target, which is flushed to disk and renamed
with ``os.replace``, so a file under its final name is always whole, even after ``kill -9``
or a full disk. A write that fails is one RunError (``WRITE_FAILED``) naming the file.
Keras is imported inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import shutil
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kerasspec.dump import dump
from kerasspec.errors import RunError, one_line
from kerasspec.paths import RUN_FILES

RUNS_ROOT = Path("runs")
# The code of a run-folder file that cannot be written (a full disk, a read-only folder).
WRITE_FAILED = "KS708"
# The files and folders the runner itself writes in a run folder: no callback may write them.
# A temporary file atomic_path leaves behind when its process is killed: `.<name>.tmp-<pid><suffix>`.
TEMPORARY = re.compile(r"^\..+\.tmp-\d+(\.weights\.h5|\.[A-Za-z0-9]+)?$")


# ----------------------------------------------------------------------------- writing


def temporary_name(path: Path) -> Path:
    """The hidden temporary file beside ``path`` that atomic_path writes (same suffix: writers
    choose the format from it, and Keras wants ``.weights.h5`` whole)."""
    path = Path(path)
    suffix = ".weights.h5" if path.name.endswith(".weights.h5") else path.suffix
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    return path.with_name(f".{stem}.tmp-{os.getpid()}{suffix}")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); flush it to disk and rename it to
    ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left as it was; an OSError
    (no space left, a read-only folder) becomes a RunError naming ``path``.
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        _flush(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise write_failed(path, exc) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _flush(path: Path) -> None:
    """Put a written file on the disk before it takes its final name (a rename can otherwise reach
    the disk before the data does, and a power cut leave an empty file under the final name)."""
    if path.is_file():
        with open(path, "rb+") as file:
            os.fsync(file.fileno())


def write_failed(path: Path, exc: OSError) -> RunError:
    """An OSError while writing ``path`` -> one line that says what and why."""
    found = re.search(r"errno = (\d+)", str(exc))  # h5py puts the C library's errno inside a long message
    errno = int(found.group(1)) if found else exc.errno
    reason = os.strerror(errno) if isinstance(errno, int) and errno > 0 else one_line(exc, 300)
    return RunError(f"cannot write {path}: {reason}", code=WRITE_FAILED,
                    hint="free space on its disk, or make its folder writable; nothing written so far is lost")


def writer_alive(temporary: str) -> bool:
    """Whether the process that writes a temporary file (``.x.tmp-<pid>.suffix``) still runs."""
    match = re.search(r"\.tmp-(\d+)", temporary)
    if not match:
        return False
    pid = int(match.group(1))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True


def write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_json(path: Path, data: Any) -> Path:
    return write_text(path, json.dumps(_jsonable(data), indent=2) + "\n")


def _jsonable(value: Any) -> Any:
    """numpy scalars -> Python numbers; NaN and infinities -> null (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ----------------------------------------------------------------------------- the run folder


def timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")  # datetime.UTC is 3.11+


def default_run_dir(name: str, root: Path = RUNS_ROOT) -> Path:
    """``runs/<name>/<UTC timestamp>``, with ``-2``, ``-3``, ... when that folder exists.

    Only a proposal: two runs that start in the same second both propose it, and
    ``create_run_dir(..., next_free=True)`` gives the second the next suffix."""
    candidate = root / name / timestamp()
    while candidate.exists() or candidate.is_symlink():
        candidate = next_suffix(candidate)
    return candidate


def next_suffix(path: Path) -> Path:
    """``20261127-101500`` -> ``20261127-101500-2`` -> ``...-3``."""
    match = re.fullmatch(r"(.+)-(\d+)", path.name)
    if match and re.fullmatch(r"\d{8}-\d{6}", match.group(1)):
        return path.with_name(f"{match.group(1)}-{int(match.group(2)) + 1}")
    return path.with_name(f"{path.name}-2")


def check_new_run_dir(path: Path) -> None:
    if path.exists() or path.is_symlink():
        raise RunError(
            f"the run folder {path} exists; a run never writes over another",
            code="KS705",
            hint="choose another --out folder, or leave out --out for runs/<name>/<timestamp>; "
            "to continue an interrupted run use --resume",
        )


def create_run_dir(path: Path, *, next_free: bool = False) -> Path:
    """Make the (new) run folder with one atomic mkdir and return it. If it exists (made
    meanwhile): KS705, or with ``next_free`` (a default folder) the next free ``-2``, ``-3``."""
    path = Path(path)
    if not next_free:
        check_new_run_dir(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_failed(path.parent, exc) from exc
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            if not next_free:
                check_new_run_dir(path)
                raise
            path = next_suffix(path)
        except OSError as exc:
            raise write_failed(path, exc) from exc


# ----------------------------------------------------------------------------- the resolved spec


def dump_spec(data: Any, header: str = "") -> str:
    """The spec as run, in the canonical layout (``kerasspec.dump``), under a comment header."""
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + dump(data)


# ----------------------------------------------------------------------------- history


def history_csv(history: dict[str, list[float]]) -> str:
    """One row per epoch, as keras.callbacks.CSVLogger writes it (epoch from 0)."""
    keys = list(history)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for epoch in range(max((len(v) for v in history.values()), default=0)):
        writer.writerow([epoch, *(history[k][epoch] if epoch < len(history[k]) else "" for k in keys)])
    return out.getvalue()


def plot_history(history: dict[str, list[float]], path: Path, title: str = "") -> Path:
    """The training curves as the seed draws them: one line per metric, epochs on x."""
    from matplotlib.figure import Figure  # the Agg canvas, without pyplot's global state

    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    for key, values in history.items():
        ax.plot(range(1, len(values) + 1), values, label=key)
    ax.set_xlabel("epoch")
    ax.grid(True)
    if history:
        ax.legend()
    if title:
        ax.set_title(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def write_history(run_dir: Path, history: dict[str, list[float]], title: str = "") -> None:
    write_json(run_dir / "history.json", history)
    write_text(run_dir / "history.csv", history_csv(history))
    plot_history(history, run_dir / "history.png", title)


# ----------------------------------------------------------------------------- the model diagram


def warn(message: str) -> None:
    print(f"kerasspec: warning: {message}", file=sys.stderr)


def plot_model(model: Any, path: Path) -> Path:
    """Draw ``model`` with keras.utils.plot_model(show_shapes=True) to ``path``; returns the file written.

    Without Graphviz's ``dot`` program the diagram is written as DOT text beside it
    (``model.dot``) and a warning says how to install Graphviz. Raises ImportError only
    when pydot itself is missing.
    """
    import keras

    path = Path(path)
    try:
        if shutil.which("dot") is None:  # what pydot runs; checked first, as plot_model only prints in IPython
            raise ImportError("Graphviz's dot is not on PATH")
        with atomic_path(path) as tmp:
            keras.utils.plot_model(model, to_file=str(tmp), show_shapes=True)
            if not tmp.exists():
                raise ImportError("keras.utils.plot_model wrote nothing")
        return path
    except ImportError:
        dot_path = path.with_suffix(".dot")
        text = keras.utils.model_to_dot(model, show_shapes=True).to_string()  # ImportError without pydot
        write_text(dot_path, text)
        warn(
            f"Graphviz's `dot` program was not found, so the model diagram is DOT text in {dot_path}. "
            f"Install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz) "
            f"for {path.name}, or draw it now with: dot -Tpng {dot_path} -o {path}"
        )
        return dot_path


__all__ = [
    "RUN_FILES",
    "WRITE_FAILED",
    "atomic_path",
    "check_new_run_dir",
    "create_run_dir",
    "default_run_dir",
    "next_suffix",
    "dump_spec",
    "history_csv",
    "plot_history",
    "plot_model",
    "temporary_name",
    "timestamp",
    "warn",
    "write_failed",
    "write_history",
    "write_json",
    "write_text",
    "writer_alive",
]
