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
from dataclasses import dataclass
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


# How history.csv (and so the plot) numbers epochs: Keras's own epoch index, as CSVLogger writes it.
FIRST_EPOCH = 0


def history_csv(history: dict[str, list[float]]) -> str:
    """One row per epoch, as keras.callbacks.CSVLogger writes it (epoch from 0)."""
    keys = list(history)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for epoch in range(max((len(v) for v in history.values()), default=0)):
        writer.writerow([FIRST_EPOCH + epoch, *(history[k][epoch] if epoch < len(history[k]) else "" for k in keys)])
    return out.getvalue()


# Runs up to this many epochs get a marker on every point (longer runs: lines only, which stay readable).
MARKERS_UP_TO = 30
LEARNING_RATE_KEYS = re.compile(r"^(learning_rate|lr)(_.+)?$")  # ReduceLROnPlateau logs `learning_rate[_<optimizer>]`


@dataclass(frozen=True)
class MarkedEpoch:
    """The epoch history.png marks: the one whose weights the model holds, or the best of ``monitor``.

    ``epoch`` counts as history.csv does (from FIRST_EPOCH); ``label`` says why it is marked.
    """

    epoch: int
    label: str
    monitor: str | None = None


@dataclass
class Panel:
    """One quantity's plot: its train series (``key``) and validation series (``val_<key>``)."""

    title: str
    series: list[str]


def _has_class(obj: Any, name: str) -> bool:
    """Whether ``obj`` is an instance of a class called ``name`` (Keras's or a subclass), without importing Keras."""
    return any(cls.__name__ == name for cls in type(obj).__mro__)


def _values(history: dict[str, list[Any]], key: str) -> list[tuple[int, float]]:
    """(epoch, value) for each epoch where ``key`` has a finite number (validation_freq > 1 leaves gaps)."""
    points = []
    for index, value in enumerate(history.get(key) or []):
        if isinstance(value, bool) or not hasattr(value, "__float__"):  # None, or text
            continue
        number = float(value)
        if math.isfinite(number):
            points.append((FIRST_EPOCH + index, number))
    return points


def _best(history: dict[str, list[Any]], monitor: str, target: float | None = None) -> int | None:
    """The first epoch where ``monitor`` is lowest (or nearest ``target``, a value a callback recorded)."""
    points = _values(history, monitor)
    if not points:
        return None
    if target is None:
        return min(points, key=lambda point: point[1])[0]
    return min(points, key=lambda point: abs(point[1] - target))[0]


def epoch_to_mark(callbacks: list[Any], history: dict[str, list[Any]]) -> MarkedEpoch | None:
    """What history.png marks, from the run's callbacks as fit left them.

    EarlyStopping with ``restore_best_weights`` (the model holds that epoch's weights), else
    ModelCheckpoint with ``save_best_only`` (the best checkpoint's epoch), else EarlyStopping's best
    epoch, else the lowest ``val_loss`` (``loss`` without validation). Epochs are Keras's, from 0,
    as in history.csv.
    """
    stoppers = [c for c in callbacks if _has_class(c, "EarlyStopping") and getattr(c, "best", None) is not None]
    for stopper in stoppers:
        if stopper.restore_best_weights and getattr(stopper, "best_weights", None) is not None:
            return MarkedEpoch(int(stopper.best_epoch), "weights restored", stopper.monitor)
    for checkpoint in callbacks:
        if _has_class(checkpoint, "ModelCheckpoint") and checkpoint.save_best_only:
            best = getattr(checkpoint, "best", None)  # (None, or infinite, until it saved one)
            finite = hasattr(best, "__float__") and math.isfinite(float(best))
            epoch = _best(history, checkpoint.monitor, float(best)) if finite else None
            if epoch is not None:
                return MarkedEpoch(epoch, "best checkpoint", checkpoint.monitor)
    for stopper in stoppers:
        return MarkedEpoch(int(stopper.best_epoch), f"best {stopper.monitor} (EarlyStopping)", stopper.monitor)
    monitor = "val_loss" if _values(history, "val_loss") else "loss"
    epoch = _best(history, monitor)
    return None if epoch is None else MarkedEpoch(epoch, f"lowest {monitor}", monitor)


def history_panels(history: dict[str, list[Any]]) -> list[Panel]:
    """The history's keys as one panel per quantity: ``loss`` first, then each output's loss, the
    metrics (``X`` with ``val_X``), and the learning rate last."""
    quantities: dict[str, list[str]] = {}
    for key in history:
        quantity = key[len("val_"):] if key.startswith("val_") else key
        quantities.setdefault(quantity, []).append(key)
    panels = [Panel(q, sorted(keys, key=lambda k: k.startswith("val_"))) for q, keys in quantities.items()
              if any(_values(history, k) for k in keys)]

    def order(panel: Panel) -> int:
        if panel.title == "loss":
            return 0
        if LEARNING_RATE_KEYS.match(panel.title):
            return 3
        return 1 if panel.title.endswith("_loss") else 2

    return sorted(panels, key=order)  # (stable: the history's order within each group)


def history_figure(history: dict[str, list[Any]], title: str = "", mark: MarkedEpoch | None = None) -> Any:
    """The training curves as a matplotlib Figure (Agg canvas, no pyplot state): a panel per quantity,
    train solid and validation dashed in one colour, the learning rate on a log scale, integer epochs
    numbered as in history.csv, ``mark``'s epoch drawn as a vertical line in every panel."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    panels = history_panels(history)
    columns = 1 if len(panels) <= 1 else 2
    rows = max(1, math.ceil(len(panels) / columns))
    fig = Figure(figsize=(7.0 if columns == 1 else 12.0, 1.0 + 3.2 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for unused in axes[max(1, len(panels)):]:  # an odd number of panels leaves the last cell empty
        unused.remove()
    if title:
        fig.suptitle(title, fontweight="bold")
    if not panels:
        axes[0].text(0.5, 0.5, "no epoch was recorded", ha="center", va="center", transform=axes[0].transAxes)
        axes[0].set_axis_off()
        return fig

    epochs = max(len(values) for values in history.values())
    short = epochs <= MARKERS_UP_TO
    mark_panel = next((p for p in panels if mark is not None and mark.monitor in p.series), panels[0])
    for number, (panel, ax) in enumerate(zip(panels, axes[:len(panels)], strict=True)):
        learning_rate = bool(LEARNING_RATE_KEYS.match(panel.title))
        colour = "dimgray" if learning_rate else f"C{number % 10}"
        for key in panel.series:
            points = _values(history, key)
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, color=colour, linestyle="--" if key.startswith("val_") else "-", label=key,
                        marker="o" if short else None, markersize=3.5, linewidth=1.6 if short else 1.2,
                        drawstyle="steps-post" if learning_rate else "default")  # (an epoch's rate holds until the next)
        rates = [y for k in panel.series for _, y in _values(history, k)]
        if learning_rate and all(y > 0 for y in rates):
            ax.set_yscale("log")
            if max(rates) < 1.5 * min(rates):  # (nearly) constant: centred, not on the edge of a whole decade
                ax.set_ylim(min(rates) / 2, max(rates) * 2)
        if mark is not None:
            here = panel is mark_panel
            ax.axvline(mark.epoch, color="black", linestyle=":", linewidth=1.2,
                       label=f"{mark.label}: epoch {mark.epoch}" if here else None)
            monitored = dict(_values(history, mark.monitor)) if here and mark.monitor else {}
            if mark.epoch in monitored:
                ax.plot([mark.epoch], [monitored[mark.epoch]], marker="*", markersize=12, color=colour,
                        markeredgecolor="black", linestyle="none")
        ax.set_title(panel.title)
        ax.set_xlabel("epoch (from 0, as in history.csv)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10], min_n_ticks=1))  # (1 epoch: one tick, not 0.1s)
        if short:  # whole epochs, half an epoch of room at both ends
            ax.set_xlim(FIRST_EPOCH - 0.5, FIRST_EPOCH + epochs - 0.5)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small", framealpha=0.8)
    return fig


def plot_history(history: dict[str, list[Any]], path: Path, title: str = "", mark: MarkedEpoch | None = None) -> Path:
    """history_figure, saved as a PNG under a temporary name and renamed."""
    fig = history_figure(history, title, mark)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path


def write_history(run_dir: Path, history: dict[str, list[float]], title: str = "", mark: MarkedEpoch | None = None) -> None:
    write_json(run_dir / "history.json", history)
    write_text(run_dir / "history.csv", history_csv(history))
    plot_history(history, run_dir / "history.png", title, mark)


# ----------------------------------------------------------------------------- the model diagram


def warn(message: str) -> None:
    print(f"kerasspec: warning: {message}", file=sys.stderr)


# Every box: the layer's name and class, its input and output shapes (keras.utils.plot_model leaves names out by default).
DIAGRAM_OPTIONS: dict[str, Any] = {"show_shapes": True, "show_layer_names": True, "dpi": 96}


def model_dot(model: Any) -> Any:
    """The model diagram as a pydot graph: what model.png draws and model.dot holds. ImportError without pydot."""
    import keras

    return keras.utils.model_to_dot(model, **DIAGRAM_OPTIONS)


def model_dot_source(model: Any) -> str:
    """The model diagram as DOT text."""
    return model_dot(model).to_string()


def plot_model(model: Any, path: Path) -> Path:
    """Draw ``model`` to ``path`` (boxes: name, class, input and output shapes); returns the file written.

    The format is the suffix's (a Graphviz format; ``.dot`` is the DOT text itself). Without
    Graphviz's ``dot`` program the diagram is written as DOT text beside it (``model.dot``) and a
    warning says how to install Graphviz. Raises ImportError only when pydot itself is missing.
    """
    path = Path(path)
    dot = model_dot(model)
    suffix = path.suffix[1:].lower() or "png"
    if suffix == "dot":
        return write_text(path, dot.to_string())
    if shutil.which("dot") is not None:  # what pydot runs
        try:
            with atomic_path(path) as tmp:
                dot.write(str(tmp), format=suffix)
            return path
        except AssertionError as exc:  # pydot's word for "dot exited with an error" (it prints dot's output)
            problem = f"Graphviz's `dot` could not draw {path.name} ({one_line(exc, 200)})"
    else:
        problem = "Graphviz's `dot` program was not found"
    dot_path = path.with_suffix(".dot")
    write_text(dot_path, dot.to_string())
    warn(
        f"{problem}, so the model diagram is DOT text in {dot_path}. "
        f"Install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz) "
        f"for {path.name}, or draw it now with: dot -T{suffix} {dot_path} -o {path}"
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
    "epoch_to_mark",
    "history_csv",
    "history_figure",
    "history_panels",
    "MarkedEpoch",
    "model_dot",
    "model_dot_source",
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
