"""The run folder's pictures: history.png (matplotlib only, read back from the Figure's axes) and
model.png's boxes (one TensorFlow test)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import pytest

from kerasspec.runner.artifacts import (
    MarkedEpoch,
    epoch_to_mark,
    history_csv,
    history_figure,
    history_panels,
    plot_history,
)
from tests.conftest import SPECS

# The keys Keras 3.15 logs for a two-output model (outputs `digit` and `size`) with ReduceLROnPlateau, in its order.
MULTI_OUTPUT_KEYS = ["digit_accuracy", "digit_loss", "loss", "size_loss", "size_mae", "val_digit_accuracy", "val_digit_loss",
                     "val_loss", "val_size_loss", "val_size_mae", "learning_rate"]


def history_of(keys: list[str], epochs: int) -> dict[str, list[float]]:
    """Made-up curves: losses fall, accuracies rise, the learning rate halves every 3 epochs."""
    history: dict[str, list[float]] = {}
    for number, key in enumerate(keys):
        if key.startswith("learning_rate"):
            history[key] = [1e-3 * 0.5 ** (epoch // 3) for epoch in range(epochs)]
        elif key.endswith("accuracy"):
            history[key] = [1 - 0.5 * math.exp(-epoch / 5) - 0.01 * number for epoch in range(epochs)]
        else:
            history[key] = [2 * math.exp(-epoch / 5) + 0.1 + 0.01 * number for epoch in range(epochs)]
    return history


def lines_by_label(ax: Any) -> dict[str, Any]:
    return {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}


# -- panels ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("keys", "panels"), [
    (["loss", "accuracy", "val_loss", "val_accuracy"], [("loss", ["loss", "val_loss"]), ("accuracy", ["accuracy", "val_accuracy"])]),
    (["loss"], [("loss", ["loss"])]),
    (["val_loss", "loss", "lr"], [("loss", ["loss", "val_loss"]), ("lr", ["lr"])]),
    (MULTI_OUTPUT_KEYS, [("loss", ["loss", "val_loss"]), ("digit_loss", ["digit_loss", "val_digit_loss"]),
                         ("size_loss", ["size_loss", "val_size_loss"]), ("digit_accuracy", ["digit_accuracy", "val_digit_accuracy"]),
                         ("size_mae", ["size_mae", "val_size_mae"]), ("learning_rate", ["learning_rate"])]),
], ids=["one_output", "no_validation", "validation_first", "two_outputs"])
def test_a_panel_per_quantity(keys: list[str], panels: list[tuple[str, list[str]]]) -> None:
    history = history_of(keys, 4)
    assert [(p.title, p.series) for p in history_panels(history)] == panels
    fig = history_figure(history, "run")
    assert [ax.get_title() for ax in fig.axes] == [title for title, _ in panels]
    for ax, (_, series) in zip(fig.axes, panels, strict=True):
        assert list(lines_by_label(ax)) == series


def test_train_solid_and_validation_dashed_in_one_colour_per_quantity() -> None:
    fig = history_figure(history_of(MULTI_OUTPUT_KEYS, 5))
    colours = []
    for ax in fig.axes:
        lines = lines_by_label(ax)
        train = lines[ax.get_title()]
        assert train.get_linestyle() == "-"
        if f"val_{ax.get_title()}" in lines:
            validation = lines[f"val_{ax.get_title()}"]
            assert validation.get_linestyle() == "--" and validation.get_color() == train.get_color()
        colours.append(train.get_color())
    assert len(set(colours)) == len(colours), "each quantity has its own colour"


@pytest.mark.parametrize(("rates", "scale"), [([1e-3, 1e-3, 1e-4, 1e-5], "log"), ([1e-3, 0.0, 0.0, 0.0], "linear")])
def test_the_learning_rate_has_its_own_panel_on_a_log_scale_when_it_can(rates: list[float], scale: str) -> None:
    fig = history_figure({"loss": [1.0, 0.8, 0.7, 0.6], "learning_rate": rates})
    loss_ax, rate_ax = fig.axes
    assert (loss_ax.get_yscale(), rate_ax.get_title(), rate_ax.get_yscale()) == ("linear", "learning_rate", scale)


@pytest.mark.parametrize("epochs", [1, 2, 7, 500])
def test_whole_epochs_numbered_as_in_history_csv(epochs: int) -> None:
    history = history_of(["loss", "val_loss", "accuracy", "val_accuracy"], epochs)
    rows = list(csv.reader(io.StringIO(history_csv(history))))
    csv_epochs = [int(row[0]) for row in rows[1:]]
    fig = history_figure(history)
    fig.canvas.draw()
    for ax in fig.axes:
        for line in lines_by_label(ax).values():
            assert list(line.get_xdata()) == csv_epochs
            assert line.get_marker() == ("o" if epochs <= 30 else "None")  # markers only where points are few
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_validation_gaps_are_bridged_not_dropped() -> None:
    """validation_freq: 2 leaves None in the validation series: its line joins the epochs that have a value."""
    history = {"loss": [1.0, 0.9, 0.8, 0.7, 0.6], "val_loss": [None, 0.95, None, 0.75, None]}
    (ax,) = history_figure(history).axes
    assert list(lines_by_label(ax)["val_loss"].get_xdata()) == [1, 3]


def test_the_marked_epoch_is_a_line_in_every_panel_and_labelled_in_its_monitor_s() -> None:
    history = history_of(MULTI_OUTPUT_KEYS, 8)
    fig = history_figure(history, mark=MarkedEpoch(5, "weights restored", "val_digit_loss"))
    for ax in fig.axes:
        vertical = [line for line in ax.get_lines() if list(line.get_xdata()) == [5, 5]]
        assert len(vertical) == 1, ax.get_title()
        labelled = [text.get_text() for text in ax.get_legend().get_texts() if "epoch" in text.get_text()]
        assert labelled == (["weights restored: epoch 5"] if ax.get_title() == "digit_loss" else [])


# -- which epoch is marked ------------------------------------------------------------------------
def fake(name: str, **attributes: Any) -> Any:
    """An object of a class called ``name`` (the runner's callbacks are Keras's classes or subclasses of them)."""
    return type(name, (), attributes)()


HISTORY = {"loss": [1.0, 0.8, 0.7, 0.65, 0.6], "val_loss": [1.1, 0.9, 0.85, 0.88, 0.9],
           "val_accuracy": [0.5, 0.6, 0.8, 0.7, 0.75]}
STOPPER = {"monitor": "val_loss", "best": 0.85, "best_epoch": 2, "best_weights": None, "restore_best_weights": False}


@pytest.mark.parametrize(("callbacks", "history", "expected"), [
    ([fake("EarlyStopping", **{**STOPPER, "restore_best_weights": True, "best_weights": [0]})], HISTORY,
     MarkedEpoch(2, "weights restored", "val_loss")),
    ([fake("ModelCheckpoint", save_best_only=True, monitor="val_accuracy", best=0.8),
      fake("EarlyStopping", **{**STOPPER, "best_epoch": 1})], HISTORY, MarkedEpoch(2, "best checkpoint", "val_accuracy")),
    ([fake("EarlyStopping", **{**STOPPER, "best_epoch": 1})], HISTORY, MarkedEpoch(1, "best val_loss (EarlyStopping)", "val_loss")),
    ([fake("EarlyStopping", **{**STOPPER, "best": None, "restore_best_weights": True})], HISTORY,
     MarkedEpoch(2, "lowest val_loss", "val_loss")),  # it never saw its monitor: nothing was restored
    ([fake("ModelCheckpoint", save_best_only=True, monitor="val_loss", best=math.inf)], {"loss": [0.5, 0.4, 0.45]},
     MarkedEpoch(1, "lowest loss", "loss")),  # it saved nothing
    ([], {"loss": []}, None),
], ids=["restored", "checkpoint_first", "early_stopping_best", "never_monitored", "no_validation", "no_epochs"])
def test_the_epoch_to_mark(callbacks: list[Any], history: dict[str, list[float]], expected: MarkedEpoch | None) -> None:
    assert epoch_to_mark(callbacks, history) == expected


def test_plot_history_writes_a_whole_png(tmp_path: Path) -> None:
    for name, history in (("some.png", HISTORY), ("none.png", {})):
        written = plot_history(history, tmp_path / name, "run", epoch_to_mark([], history))
        assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["none.png", "some.png"]  # no temporary file left


# -- model.png ------------------------------------------------------------------------------------
def test_model_diagram_boxes_carry_name_class_and_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keras_module) -> None:
    import kerasspec
    from kerasspec.runner import artifacts

    model = kerasspec.build(kerasspec.load_and_validate(SPECS / "wide_deep_two_inputs.yaml"))
    source = artifacts.model_dot_source(model)
    for box in ("<b>wide</b> (InputLayer)", "<b>deep</b> (InputLayer)", "<b>hidden1</b> (Dense)", "<b>concat</b> (Concatenate)",
                "<b>output</b> (Dense)"):
        assert box in source, box
    for shape in ("Output shape: <b>(None, 5)</b>", "Output shape: <b>(None, 6)</b>", "Output shape: <b>(None, 35)</b>"):
        assert shape in source, shape

    assert artifacts.plot_model(model, tmp_path / "model.png").read_bytes()[:4] == b"\x89PNG"
    assert artifacts.plot_model(model, tmp_path / "asked.dot").read_text() == source  # `kerasspec build --plot x.dot`
    monkeypatch.setattr(artifacts.shutil, "which", lambda name: None)  # no Graphviz: the same boxes as DOT text
    written = artifacts.plot_model(model, tmp_path / "fallback.png")
    assert written == tmp_path / "fallback.dot" and written.read_text() == source
