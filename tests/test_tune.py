"""`kerasspec tune` (kerasspec/tune.py): studies on tiny models, resumed, pruned, shared by two workers."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from kerasspec.tune import BEST_SPEC, TRIALS_CSV, tune  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

SPEC = """
    kerasspec: 1
    name: tiny_tune
    seed: 3
    model:
      input: [3]
      layers: [{type: Dense, units: 2, activation: softmax}]
    compile: {optimizer: {type: Adam, learning_rate: 0.01}, loss: sparse_categorical_crossentropy}
    data: {source: {type: npz, path: d.npz}}
    fit: {epochs: EPOCHS, batch_size: 8, validation_split: 0.25, verbose: 0}
    search:
      objective: val_loss
      direction: minimize
      trials: 4
      space:
        compile.optimizer.learning_rate: {float: [0.0001, 0.1], log: true}
        fit.batch_size: {choice: [4, 8, 16]}
"""


def write_spec(folder: Path, epochs: int = 2) -> Path:
    rng = np.random.default_rng(0)
    np.savez(folder / "d.npz", x=rng.normal(size=(40, 3)).astype("float32"), y=rng.integers(0, 2, size=40))
    path = folder / "spec.yaml"
    path.write_text(textwrap.dedent(SPEC).replace("EPOCHS", str(epochs)), encoding="utf-8")
    return path


def rows(folder: Path) -> list[dict[str, str]]:
    with (folder / TRIALS_CSV).open(encoding="utf-8") as lines:
        return list(csv.DictReader(lines))


def test_a_study_resumed_keeps_its_trials_and_best_yaml_holds_the_best_values(tmp_path: Path, keras_module) -> None:
    import kerasspec
    from kerasspec.loader import load_file

    spec = write_spec(tmp_path)
    study_dir = tmp_path / "study"
    tune(str(spec), trials=4, out=str(study_dir), plots=False)
    first = rows(study_dir)
    assert [r["trial"] for r in first] == ["0", "1", "2", "3"]
    assert {r["state"] for r in first} <= {"COMPLETE", "PRUNED"}  # (the median pruner may prune from the 4th)
    assert [r["seed"] for r in first] == ["3000", "3001", "3002", "3003"]  # spec seed * 1000 + trial number
    assert "--set seed=3002" in first[2]["command"] and "--set fit.batch_size=" in first[2]["command"]
    assert all((study_dir / "trials" / f"{n:04d}" / "history.json").is_file() for n in range(4))

    study = tune(resume=str(study_dir), trials=6)
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 6
    after = rows(study_dir)
    assert after[:4] == first and len(after) == 6
    assert (study_dir / "optimization_history.png").is_file() and (study_dir / "slice.png").is_file()
    assert (study_dir / "param_importances.png").is_file()

    best = study.best_trial
    validated = kerasspec.load_and_validate(study_dir / BEST_SPEC)  # the best spec validates
    data = load_file(study_dir / BEST_SPEC)[0].data
    assert "search" not in data and data["seed"] == 3000 + best.number
    assert data["compile"]["optimizer"]["learning_rate"] == best.params["compile.optimizer.learning_rate"]
    assert data["fit"]["batch_size"] == best.params["fit.batch_size"]
    assert validated.data["fit"]["batch_size"] == best.params["fit.batch_size"]

    # The trial's own run folder recorded the same overrides as its command.
    import json

    record = json.loads((study_dir / "trials" / f"{best.number:04d}" / "run.json").read_text())
    assert f"seed={3000 + best.number}" in record["overrides"]


def test_a_trial_the_pruner_prunes_stops_after_its_epoch(tmp_path: Path, keras_module) -> None:
    spec = write_spec(tmp_path, epochs=3)
    study_dir = tmp_path / "study"
    pruner = optuna.pruners.ThresholdPruner(upper=0.0)  # every val_loss is above 0: pruned at its first epoch
    study = tune(str(spec), trials=1, out=str(study_dir), pruner=pruner, plots=False)
    assert [t.state.name for t in study.trials] == ["PRUNED"]
    assert rows(study_dir)[0]["state"] == "PRUNED"
    import json

    history = json.loads((study_dir / "trials" / "0000" / "history.json").read_text())
    assert len(history["val_loss"]) == 1  # stopped by model.stop_training, not after 3 epochs
    assert not (study_dir / BEST_SPEC).exists()  # no complete trial, no best spec


def test_ctrl_c_ends_the_study_and_resume_continues_it(tmp_path: Path, keras_module, monkeypatch, capsys) -> None:
    from kerasspec import cli
    from kerasspec.runner import training_run

    spec = write_spec(tmp_path)
    study_dir = tmp_path / "study"
    real_run = training_run.run
    calls = []

    def run_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run(*args, **kwargs)

    monkeypatch.setattr(training_run, "run", run_then_interrupt)
    assert cli.main(["tune", str(spec), "--trials", "3", "--out", str(study_dir)]) == 130
    assert "kerasspec tune --resume" in capsys.readouterr().err
    assert [r["state"] for r in rows(study_dir)] == ["COMPLETE", "FAIL"]
    monkeypatch.setattr(training_run, "run", real_run)
    assert cli.main(["tune", "--resume", str(study_dir), "--trials", "2"]) == 0
    assert [r["state"] for r in rows(study_dir)] == ["COMPLETE", "FAIL", "COMPLETE"]


def test_two_workers_share_one_sqlite_study(tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    study_dir = tmp_path / "study"
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "CUDA_VISIBLE_DEVICES": "-1"}
    command = [sys.executable, "-m", "kerasspec", "tune", str(spec), "--trials", "2", "--out", str(study_dir),
               "--storage", storage]
    workers = [subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    study = optuna.load_study(study_name="tiny_tune", storage=storage)
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3]
    assert {t.state.name for t in study.trials} <= {"COMPLETE", "PRUNED"}
    assert sorted(int(p.name) for p in (study_dir / "trials").iterdir()) == [0, 1, 2, 3]


def test_the_example_spec_validates_with_its_search_section() -> None:
    from kerasspec import cli
    from kerasspec.loader import load_file
    from kerasspec.tune import read_search

    assert cli.main(["validate", str(ROOT / "specs" / "tune_quickstart.yaml")]) == 0
    search = read_search(load_file(ROOT / "specs" / "tune_quickstart.yaml")[0].data)
    assert search.objective == "val_loss" and len(search.space) >= 2


def test_a_study_folder_cannot_send_its_study_to_another_database(tmp_path: Path) -> None:
    import json

    from kerasspec.errors import KerasspecError

    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "study.json").write_text(json.dumps({"spec": str(write_spec(tmp_path)), "study_name": "s",
                                                   "storage": f"sqlite:///{tmp_path / 'elsewhere.db'}"}), encoding="utf-8")
    with pytest.raises(KerasspecError, match="not the folder's own study.db") as info:
        tune(resume=str(folder))
    assert info.value.code == "KS713"
    assert not (tmp_path / "elsewhere.db").exists()
