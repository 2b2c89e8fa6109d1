"""The run folder and the files in it, each written under a temporary name and renamed.

``atomic_path`` is the one way a file gets into a run folder: the writer (our own code,
``model.save``, matplotlib, Graphviz) writes to a hidden temporary name beside the target
and ``os.replace`` renames it, so a file under its final name is always whole.
Keras is imported inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kerasspec.dump import dump
from kerasspec.errors import RunError

RUNS_ROOT = Path("runs")


# ----------------------------------------------------------------------------- writing


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); rename it to ``path`` on success.

    The suffix is kept because writers choose the format from it (``.keras``, ``.png``).
    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


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
    """``runs/<name>/<UTC timestamp>``, with ``-2``, ``-3``, ... when that folder exists."""
    base = root / name / timestamp()
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def check_new_run_dir(path: Path) -> None:
    if path.exists():
        raise RunError(
            f"the run folder {path} exists; a run never writes over another",
            code="KS705",
            hint="choose another --out folder, or leave out --out for runs/<name>/<timestamp>; "
            "to continue an interrupted run use --resume",
        )


def create_run_dir(path: Path) -> Path:
    """Make the (new) run folder; KS705 if it appeared meanwhile."""
    check_new_run_dir(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir()
    except FileExistsError:
        check_new_run_dir(path)
        raise
    return path


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
    "atomic_path",
    "check_new_run_dir",
    "create_run_dir",
    "default_run_dir",
    "dump_spec",
    "history_csv",
    "plot_history",
    "plot_model",
    "timestamp",
    "warn",
    "write_history",
    "write_json",
    "write_text",
]
