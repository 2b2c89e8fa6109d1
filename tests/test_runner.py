"""kerasspec run: the run folder, reproducibility, resume, offline datasets, early errors, --set."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from kerasspec.errors import KerasspecError, RunError
from kerasspec.loader import load_text
from kerasspec.overrides import apply_overrides, parse_override
from kerasspec.runner import artifacts
from tests.conftest import SPECS
from tests.fake_datasets import use_keras_home, write_california_housing, write_fashion_mnist
from tests.model_compare import assert_same_model

# A tiny seeded regression spec without Dropout (so a resumed run is bit-identical).
TINY = """\
kerasspec: 1
name: tiny
seed: 3
model:
  input: [4]
  layers:
    - {type: Dense, units: 8, activation: relu}
    - {type: Dense, units: 1}
compile: {optimizer: adam, loss: mse, metrics: [mae]}
data:
  source: {type: sklearn, name: make_regression, n_samples: 120, n_features: 4, noise: 1, random_state: 0}
  split: {test: {fraction: 0.25, random_state: 1}, validation: {fraction: 0.2, random_state: 2}}
fit:
  epochs: 4
  batch_size: 16
"""
RUN_FILES = {"spec.yaml", "run.json", "model.keras", "history.json", "history.csv", "history.png", "metrics.json", "transforms.json",
             "exported.yaml"}


def epoch_recorder():
    """A Keras callback that records the epochs it sees begin (`.seen`)."""
    import keras

    class Epochs(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen: list[int] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.seen.append(epoch)

    return Epochs()


def write_spec(folder: Path, text: str, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def position_of(path: Path, needle: str) -> str:
    """file:line:col of the first occurrence of `needle` in the file (1-based, as diagnostics)."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return f"{path}:{number}:{line.index(needle) + 1}"
    raise AssertionError(f"{needle!r} not in {path}")


def weights(model) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.get_weights()]


def assert_same_weights(a, b) -> None:
    wa, wb = weights(a), weights(b)
    assert len(wa) == len(wb) > 0
    for x, y in zip(wa, wb, strict=True):
        assert x.shape == y.shape and np.array_equal(x, y), f"max difference {np.max(np.abs(x - y))}"


# ----------------------------------------------------------------------------- --set (no Keras)


def test_overrides_type_values_as_yaml_12() -> None:
    data = {"fit": {"epochs": 10}, "model": {"layers": ["Flatten", {"type": "Dense", "units": 3}]},
            "vars": {"a.b": 1}}
    apply_overrides(data, ["fit.epochs=3", "fit.lr=1e-3", "vars.hidden=256", "model.layers[1].units=5", "model.layers[-1].name=out",
                           "data.split.test.random_state=3", "fit.callbacks=[EarlyStopping, {type: TensorBoard}]",
                           "description=yes", "vars['a.b']=042", "seed=", "fit.shuffle=false", "name= x=y"])
    assert data["fit"] == {"epochs": 3, "lr": 0.001, "callbacks": ["EarlyStopping", {"type": "TensorBoard"}], "shuffle": False}
    assert data["model"]["layers"][1] == {"type": "Dense", "units": 5, "name": "out"}
    assert data["data"] == {"split": {"test": {"random_state": 3}}}  # missing sections are made
    assert data["vars"] == {"a.b": 42, "hidden": 256}
    assert data["description"] == "yes" and data["seed"] is None and data["name"] == "x=y"
    assert parse_override("fit.epochs=3") == (["fit", "epochs"], 3)


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("fit.epochs", "expected KEY=VALUE"),
        ("=3", "expected KEY=VALUE"),
        ("fit..epochs=3", "cannot read the key"),
        ("fit.epochs[x]=3", "cannot read the key"),
        (".fit=3", "must start with a top-level key"),
        ("[0]=3", "must start with a top-level key"),
        ("fit.epochs.x=3", "fit.epochs is an integer (10), not a mapping"),
        ("model.layers[0].units=3", "model.layers[0] is a string ('Flatten')"),
        ("model.layers.units=3", "select an entry with [n]"),
        ("model.layers[5].units=3", "has 1 entries, so [5] is out of range"),
        ("fit[0]=3", "fit is a mapping, not a list"),
        ("fit.epochs=[1, 2", "not valid YAML"),
        ("fit.x={a: 1, a: 2}", "not valid YAML"),
    ],
)
def test_bad_overrides_are_ks706(override: str, words: str) -> None:
    data = {"fit": {"epochs": 10}, "model": {"layers": ["Flatten"]}}
    with pytest.raises(KerasspecError) as info:
        apply_overrides(data, [override])
    assert info.value.code == "KS706" and repr(override) in str(info.value)
    assert words in str(info.value) and info.value.hint
    assert data == {"fit": {"epochs": 10}, "model": {"layers": ["Flatten"]}}


def test_run_folder_helpers(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = artifacts.default_run_dir("demo")
    assert first.parent == Path("runs/demo") and len(first.name) == len("20261127-101500")
    artifacts.create_run_dir(first)
    assert artifacts.default_run_dir("demo").name in (f"{first.name}-2", artifacts.timestamp())
    with pytest.raises(RunError) as info:
        artifacts.create_run_dir(first)
    assert info.value.code == "KS705"
    # A default folder that another run made first: the next free suffix, in one mkdir each.
    artifacts.create_run_dir(first.with_name(f"{first.name}-2"))
    assert artifacts.create_run_dir(first, next_free=True) == first.with_name(f"{first.name}-3")
    assert artifacts.next_suffix(Path("runs/x/20261127-101500-9")).name == "20261127-101500-10"
    # atomic_path: a failed writer leaves neither the file nor its temporary; an OSError is one RunError.
    with pytest.raises(RunError) as info, artifacts.atomic_path(tmp_path / "x.json") as tmp:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")
    assert info.value.code == "KS708"
    assert info.value.message == f"cannot write {tmp_path / 'x.json'}: No space left on device"
    with pytest.raises(ValueError), artifacts.atomic_path(tmp_path / "x.json") as tmp:
        tmp.write_text("half")
        raise ValueError("the writer's own error")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    # Keras wants a weights file to end in .weights.h5: so does its temporary name.
    assert artifacts.temporary_name(Path("b/backup-3.weights.h5")).name.endswith(".weights.h5")
    assert artifacts.TEMPORARY.match(artifacts.temporary_name(Path("b/backup-3.weights.h5")).name)
    assert artifacts.TEMPORARY.match(artifacts.temporary_name(Path("model.keras")).name)
    # spec.yaml reloads with the same data, even strings that YAML 1.2 would read as numbers.
    data = {"a": "1e-3", "b": "0o17", "c": "yes", "d": 1e-05, "e": "${x}", "f": [1, "2"], "g": {"type": "L2", "l2": 0.001}}
    loaded, found = load_text(artifacts.dump_spec(data, "header\nline"))
    assert not found and loaded.data == data


# ----------------------------------------------------------------------------- runs


def test_quickstart_run_folder(tmp_path: Path, capsys, keras_module) -> None:
    from kerasspec.runner.cli_run import add_run_arguments, cmd_run
    from kerasspec.validate import validate_file

    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    out = tmp_path / "run"
    args = parser.parse_args([str(SPECS / "quickstart.yaml"), "--out", str(out), "--set", "fit.epochs=2", "--verbose", "0"])
    assert cmd_run(args) == 0
    files = {p.name for p in out.iterdir()}
    assert RUN_FILES <= files and files & {"model.png", "model.dot"}, files
    assert not files & {"backup", "history.partial.json"} and not [f for f in files if f.startswith(".")]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"loss", "accuracy", "epochs_run"} and metrics["epochs_run"] == 2
    history = json.loads((out / "history.json").read_text())
    assert list(history) == ["accuracy", "loss", "val_accuracy", "val_loss"] and len(history["loss"]) == 2
    assert (out / "history.csv").read_text().splitlines()[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "complete" and info["overrides"] == ["fit.epochs=2"]  # --set, recorded once
    assert "with --set fit.epochs=2\n" in (out / "spec.yaml").read_text()
    transforms = json.loads((out / "transforms.json").read_text())
    assert transforms[0]["type"] == "standardize" and len(transforms[0]["mean"]) == 64
    # The resolved spec is the spec after --set, and validates again.
    resolved = validate_file(out / "spec.yaml")
    assert resolved.ok and resolved.data["fit"]["epochs"] == 2 and resolved.data["model"]["layers"][0]["units"] == "${hidden}"
    # The saved model is the trained one.
    import kerasspec

    model = kerasspec.load_model(out / "model.keras")
    assert model.count_params() == 64 * 64 + 64 + 64 * 10 + 10
    # The trained model exported back to a spec: it validates and rebuilds the same model.
    assert validate_file(out / "exported.yaml").diagnostics == []
    rebuilt = kerasspec.build(kerasspec.load_and_validate(out / "exported.yaml"))
    assert_same_model(rebuilt, model)
    rebuilt.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(4, 64)).astype("float32")
    np.testing.assert_array_equal(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))
    # --verbose 0: no progress, and still the last line (only --quiet drops it: tests/test_quiet.py).
    printed = capsys.readouterr().out
    assert f"run folder: {out}; test loss " in printed and "Epoch 1/2" not in printed and "/step" not in printed, printed


def test_summary_line(tmp_path: Path, capsys, keras_module) -> None:
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    result = run(load_and_validate(write_spec(tmp_path, TINY), overrides=["fit.epochs=1"]), out=tmp_path / "run", verbose=2)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    loss, mae = result.metrics["loss"], result.metrics["mae"]
    assert line == f"run folder: {tmp_path / 'run'}; test loss {loss:.4g}, mae {mae:.4g} (1 epoch)"


def test_two_seeded_runs_are_bit_identical(tmp_path: Path, keras_module) -> None:
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    spec = write_spec(tmp_path, TINY)
    a = run(load_and_validate(spec, overrides=["fit.epochs=2"]), out=tmp_path / "a", verbose=0)
    b = run(load_and_validate(spec, overrides=["fit.epochs=2"]), out=tmp_path / "b", verbose=0)
    assert_same_weights(a.model, b.model)
    assert a.history == b.history and a.metrics == b.metrics
    c = run(load_and_validate(spec, overrides=["fit.epochs=2", "seed=4"]), out=tmp_path / "c", verbose=0)
    with pytest.raises(AssertionError):  # the comparison can fail: another seed, other weights
        assert_same_weights(a.model, c.model)


def test_regression_spec_matches_the_handwritten_script(tmp_path: Path, keras_module) -> None:
    from kerasspec import load_and_validate
    from kerasspec.runner import run
    from tests.handwritten.seed_scripts import train_regression

    result = run(load_and_validate(SPECS / "regression.yaml", overrides=["data.source.n_samples=500", "fit.epochs=2"]), out=tmp_path / "run", verbose=0)
    model, history, metrics = train_regression(n_samples=500, epochs=2)  # the seed's script, same seed, data and splits

    assert_same_weights(result.model, model)
    assert result.history == history.history
    assert result.metrics["loss"] == metrics["loss"]


def test_interrupted_run_resumes_to_the_same_weights(tmp_path: Path, keras_module) -> None:
    import keras

    from kerasspec import load_and_validate
    from kerasspec.runner import run

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("interrupted by the test")

    spec = write_spec(tmp_path, TINY)
    whole = run(load_and_validate(spec), out=tmp_path / "whole", verbose=0)
    with pytest.raises(RuntimeError, match="interrupted by the test"):
        run(load_and_validate(spec), out=tmp_path / "cut", verbose=0, callbacks=[Interrupt()])
    cut = tmp_path / "cut"
    assert (cut / "backup").is_dir() and not (cut / "model.keras").exists()
    assert [r["epoch"] for r in json.loads((cut / "history.partial.json").read_text())] == [0, 1]
    with pytest.raises(ValueError, match="pass neither a spec nor out"):  # a run continues the spec it started with
        run(load_and_validate(spec, overrides=["fit.epochs=5"]), resume=cut)

    counter = epoch_recorder()
    resumed = run(resume=cut, verbose=0, callbacks=[counter])
    assert counter.seen == [2, 3]  # BackupAndRestore resumed after the last whole epoch
    assert_same_weights(resumed.model, whole.model)
    assert resumed.history == whole.history and len(resumed.history["loss"]) == 4
    assert resumed.metrics == whole.metrics and resumed.metrics["epochs_run"] == 4
    assert not (cut / "backup").exists() and not (cut / "history.partial.json").exists()
    assert json.loads((cut / "run.json").read_text())["status"] == "complete"
    with pytest.raises(RunError) as info:
        run(resume=cut)
    assert info.value.code == "KS710"


def test_fashion_mnist_offline_with_file_callbacks(tmp_path: Path, monkeypatch, keras_module) -> None:
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    use_keras_home(monkeypatch, tmp_path / "keras")
    write_fashion_mnist(tmp_path / "keras", n_train=100, n_test=10)
    callbacks = ("fit.callbacks=[{type: ModelCheckpoint, filepath: checkpoints/best.keras, save_best_only: true},"
                 " {type: CSVLogger, filename: logs/epochs.csv}]")
    out = tmp_path / "mlp"
    result = run(load_and_validate(SPECS / "fashion_mnist_mlp.yaml", overrides=["fit.epochs=1", "data.split.validation.first=20", "vars.hidden=4", callbacks]), out=out, verbose=0)
    assert result.metrics["epochs_run"] == 1 and set(result.metrics) == {"accuracy", "loss", "epochs_run"}
    assert json.loads((out / "transforms.json").read_text())[0]["type"] == "rescale"
    assert (out / "checkpoints" / "best.keras").is_file()
    assert (out / "logs" / "epochs.csv").read_text().startswith("epoch,accuracy,loss,val_accuracy,val_loss")


def test_tensorboard_logs_land_in_the_run_folder(tmp_path: Path, monkeypatch, keras_module) -> None:
    pytest.importorskip("tensorboard")  # TensorFlow 2.21 no longer installs it
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    use_keras_home(monkeypatch, tmp_path / "keras")
    write_fashion_mnist(tmp_path / "keras", n_train=100, n_test=10)
    out = tmp_path / "run"
    run(load_and_validate(SPECS / "fashion_mnist_callbacks.yaml", overrides=["fit.epochs=1"]), out=out, verbose=0)
    assert list((out / "tensorboard").rglob("events.out.tfevents.*"))
    assert (out / "checkpoints" / "best.keras").is_file()


def test_tensorboard_without_its_package_fails_before_training(tmp_path: Path, monkeypatch, keras_module) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` raises ImportError
    spec = SPECS / "fashion_mnist_callbacks.yaml"
    fails(spec, tmp_path / "run", "KS606", "pip install tensorboard", position=position_of(spec, "{type: TensorBoard"))


@pytest.mark.parametrize("name", ["wide_deep_two_inputs", "wide_deep_housing"])
def test_california_housing_offline(name: str, tmp_path: Path, monkeypatch, keras_module) -> None:
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    write_california_housing(tmp_path / "sklearn", n=40)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn"))
    result = run(load_and_validate(SPECS / f"{name}.yaml", overrides=["fit.epochs=1"]), out=tmp_path / "run", verbose=0)
    assert set(result.metrics) == {"loss", "epochs_run"} and np.isfinite(result.metrics["loss"])
    assert [t.name for t in result.model.inputs] == (["wide", "deep"] if name == "wide_deep_two_inputs" else ["input"])
    assert len(json.loads((tmp_path / "run" / "transforms.json").read_text())[0]["mean"]) == 8


# ----------------------------------------------------------------------------- errors before training


def fails(spec, out: Path, code: str, *words: str, overrides=(), position: str | None = None) -> RunError:
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    existed = out.exists()
    with pytest.raises(KerasspecError) as info:
        run(load_and_validate(spec, overrides=overrides), out=out, verbose=0)
    error = info.value
    assert error.diagnostics[0].code == code, str(error)  # (SpecInvalid.code is always KS101)
    for word in words:
        assert word in str(error), f"{word!r} not in {error}"
    if position:
        assert str(error).startswith(f"{position}: error[{code}]"), str(error)
    assert out.exists() == existed, "a run that fails before training makes no run folder"
    return error


def test_callback_path_leaving_the_run_folder(tmp_path: Path, keras_module) -> None:
    escape = write_spec(tmp_path, TINY + "  callbacks:\n    - {type: CSVLogger, filename: ../escape.csv}\n", "escape.yaml")
    fails(escape, tmp_path / "a", "KS704", "leaves the run folder", position=position_of(escape, "../escape.csv"))
    absolute = write_spec(tmp_path, TINY + "  callbacks:\n    - {type: TensorBoard, log_dir: /tmp/tb}\n", "absolute.yaml")
    fails(absolute, tmp_path / "b", "KS704", "leaves the run folder", position=position_of(absolute, "/tmp/tb"))
    assert not (tmp_path.parent / "escape.csv").exists()


def test_confine_follows_symlinks(tmp_path: Path, keras_module) -> None:
    from kerasspec.paths import confine

    run_dir, outside = tmp_path / "run", tmp_path / "outside"
    run_dir.mkdir()
    outside.mkdir()
    (run_dir / "link").symlink_to(outside)
    assert confine(run_dir, "logs/a.csv", "p", what="x", folder="the run folder") == run_dir.resolve() / "logs/a.csv"
    with pytest.raises(RunError) as info:
        confine(run_dir, "link/a.csv", "fit.callbacks[0].filename", what="CSVLogger's filename", folder="the run folder")
    assert info.value.code == "KS704" and info.value.path == "fit.callbacks[0].filename"


def test_settings_errors(tmp_path: Path, keras_module) -> None:
    spec = write_spec(tmp_path, TINY)
    quick = SPECS / "quickstart.yaml"
    fails(quick, tmp_path / "a", "KS703", "never stand together", overrides=["fit.validation_split=0.1"],
          position=position_of(quick, "epochs"))  # an overridden key is placed at its nearest ancestor in the file
    fails(spec, tmp_path, "KS705", "exists")
    fails(spec, tmp_path / "b", "KS706", "--set 'fit.epochs.x=1'", overrides=["fit.epochs.x=1"])
    fails(spec, tmp_path / "c", "KS707", "tf.distribute", overrides=["distribute={strategy: parameter_server}"])
    fails(spec, tmp_path / "d", "KS101", "did you mean 'shuffle'", overrides=["fit.shufle=true"])
    fails(spec, tmp_path / "e", "KS703", "no test split", overrides=["evaluate=true", "data.split={validation: 0.2}"])
    fails(spec, tmp_path / "f", "KS102", "needs a `data:` section", overrides=["data="])
    fails(spec, tmp_path / "g", "KS201", "did you mean 'EarlyStopping'", overrides=["fit.callbacks=[EarlyStoping]"])


def test_data_that_does_not_fit_the_model(tmp_path: Path, keras_module) -> None:
    spec = write_spec(tmp_path, TINY.replace("input: [4]", "input: [5]"))
    fails(spec, tmp_path / "a", "KS702", "make_regression gives x of 4 columns, but the model's input has shape [5]",
          position=position_of(spec, "{type: sklearn"))


def test_no_imports_refuses_before_anything_runs(tmp_path: Path, keras_module) -> None:
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    spec = write_spec(tmp_path, TINY.replace("seed: 3\n", "seed: 3\nimports: [anything]\n"))
    with pytest.raises(KerasspecError) as info:
        run(load_and_validate(spec), out=tmp_path / "run", allow_imports=False, verbose=0)
    assert info.value.code == "KS607" and f"{spec}:4:" in str(info.value)
    assert not (tmp_path / "run").exists()


def test_steps_per_execution_chosen_by_the_runner_keeps_the_weights(tmp_path: Path, keras_module) -> None:
    """issue 14: with `steps_per_execution` unset the runner runs several steps per execution; same weights as 1."""
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    common = ["fit.epochs=2", "fit.callbacks=[{type: EarlyStopping, monitor: val_loss, patience: 10}]"]
    auto = run(load_and_validate(SPECS / "regression.yaml", overrides=common), out=tmp_path / "auto", verbose=0)
    one = run(load_and_validate(SPECS / "regression.yaml", overrides=[*common, "compile.steps_per_execution=1"]), out=tmp_path / "one", verbose=0)
    chosen = json.loads((tmp_path / "auto" / "run.json").read_text())["steps_per_execution"]["auto"]
    assert chosen > 1 and auto.model.steps_per_execution == chosen and one.model.steps_per_execution == 1
    assert "steps_per_execution" not in json.loads((tmp_path / "one" / "run.json").read_text())
    assert_same_weights(auto.model, one.model)
    assert auto.history == one.history


def test_a_per_batch_callback_keeps_one_step_per_execution(tmp_path: Path, keras_module) -> None:
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    result = run(load_and_validate(SPECS / "regression.yaml", overrides=["fit.epochs=1", "fit.callbacks=[{type: BackupAndRestore, backup_dir: b, save_freq: 50}]"]), out=tmp_path / "r", verbose=0)
    assert result.model.steps_per_execution == 1


def test_fit_refusing_the_data_at_its_first_step_is_a_failed_run_not_a_resumable_one(tmp_path: Path, capsys,
                                                                                      keras_module) -> None:
    import kerasspec

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(20, 3)), y=rng.integers(0, 2, size=20))
    spec = write_spec(tmp_path, """
        kerasspec: 1
        name: wrong_labels
        seed: 1
        model:
          input: [3]
          layers: [{type: Dense, units: 2, activation: softmax}]
        compile: {optimizer: adam, loss: categorical_crossentropy}
        data: {source: {type: npz, path: d.npz}}
        fit: {epochs: 1, verbose: 0}
    """)
    with pytest.raises(RunError) as info:  # class indices to a loss that takes one-hot rows
        kerasspec.run(kerasspec.load_and_validate(spec), out=tmp_path / "run")
    assert info.value.code == "KS702" and info.value.path == "fit" and "first step" in info.value.message
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "failed" and record["error"]
    assert "--resume" not in capsys.readouterr().err
