"""distribute: one_device, mirrored over two logical CPUs, multi_worker_mirrored with two workers on
127.0.0.1, and the settings that are refused (KS707).

Strategies that must be set up before TensorFlow starts (logical devices, TF_CONFIG) run in
subprocesses; each one has a timeout and is killed if the test fails.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kerasspec.errors import RunError
from kerasspec.runner import distribute
from tests.conftest import ROOT
from tests.test_runner import fails, position_of, weights, write_spec

# make_regression with 256 samples, Dense 8 -> 1, 2 epochs. `shuffle: false`, because a
# multi-worker run's tf.data shuffle is not Keras's array shuffle (mirrored shuffles as Keras does).
SPEC = """\
kerasspec: 1
name: tiny_dist
seed: 3
model:
  input: [4]
  layers:
    - {type: Dense, units: 8, activation: relu}
    - {type: Dense, units: 1}
compile: {optimizer: {type: Adam, learning_rate: 0.01}, loss: mse, metrics: [mae]}
data:
  source: {type: sklearn, name: make_regression, n_samples: 256, n_features: 4, noise: 1, random_state: 0}
  split: {test: {fraction: 0.25, random_state: 1}, validation: {first: 64}}
fit: {epochs: 2, batch_size: 32, shuffle: false}
"""
TIMEOUT = 240  # seconds for one subprocess (TensorFlow's import alone takes ~7 s; two cores are shared)


def assert_close(a, b, atol: float = 1e-5) -> float:
    wa, wb = weights(a), weights(b)
    assert len(wa) == len(wb) > 0
    worst = max(float(np.max(np.abs(x - y))) for x, y in zip(wa, wb, strict=True))
    assert worst <= atol, f"max weight difference {worst}"
    return worst


def env(**extra: str) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    values.update(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", **extra)
    return values


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start(commands: list[tuple[list[str], dict[str, str]]], cwd: Path, logs: Path) -> list[subprocess.Popen]:
    logs.mkdir(exist_ok=True)
    procs = []
    try:
        for i, (args, environ) in enumerate(commands):
            with open(logs / f"{i}.log", "w") as out:
                procs.append(subprocess.Popen(args, cwd=cwd, env=environ, stdout=out, stderr=subprocess.STDOUT))
    except BaseException:
        stop(procs)
        raise
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    """Kill whatever is still running (after a failure or a timeout)."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def finish(procs: list[subprocess.Popen], logs: Path) -> list[tuple[int, str]]:
    """Wait for every process (TIMEOUT each); kill them all if any is left over."""
    try:
        for proc in procs:
            proc.wait(timeout=TIMEOUT)
    finally:
        stop(procs)
    return [(proc.returncode, (logs / f"{i}.log").read_text()) for i, proc in enumerate(procs)]


def run_together(commands: list[tuple[list[str], dict[str, str]]], cwd: Path, logs: Path) -> list[tuple[int, str]]:
    """Start every command at once and wait for all of them."""
    return finish(start(commands, cwd, logs), logs)


def workers(args: list[str], **extra: str) -> list[tuple[list[str], dict[str, str]]]:
    """`python -m kerasspec run ARGS` for two workers on 127.0.0.1, with TF_CONFIG from free ports."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    return [([sys.executable, "-m", "kerasspec", "run", *args],
             env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}), **extra))
            for index in range(2)]


def single_run(tmp_path: Path, name: str = "single"):
    """The same spec with the default strategy, in this process."""
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    return run(load_and_validate(write_spec(tmp_path, SPEC)), out=tmp_path / name, verbose=0)


# ----------------------------------------------------------------------------- settings (no TensorFlow)


def tf_config(index: int, count: int = 2, task: str = "worker", chief: bool = False) -> dict[str, str]:
    cluster = {"worker": [f"127.0.0.1:{2000 + i}" for i in range(count)]}
    if chief:
        cluster["chief"] = ["127.0.0.1:1999"]
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": task, "index": index}})}


def test_worker_roles_from_tf_config() -> None:
    mwm = {"strategy": "multi_worker_mirrored"}
    assert distribute.worker_role({"strategy": "mirrored"}, {}).is_chief  # no cluster: its own chief
    first, second = distribute.worker_role(mwm, tf_config(0)), distribute.worker_role(mwm, tf_config(1))
    assert first.is_chief and not second.is_chief and second.num_workers == 2 and second.name == "worker 1"
    assert not distribute.worker_role(mwm, tf_config(0, chief=True)).is_chief  # the chief task is the chief
    chief = distribute.worker_role(mwm, tf_config(0, task="chief", chief=True))
    assert chief.is_chief and chief.num_workers == 3


@pytest.mark.parametrize(
    ("settings", "environ", "words"),
    [
        ({"strategy": "multi_worker_mirrored"}, {}, "TF_CONFIG environment variable, which is not set"),
        ({"strategy": "multi_worker_mirrored"}, {"TF_CONFIG": "{not json"}, "not a cluster description"),
        ({"strategy": "multi_worker_mirrored"}, tf_config(2), "task worker 2 is not in its cluster"),
        ({"strategy": "multi_worker_mirrored"}, {"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"], "ps": ["b:1"]},
                                                                         "task": {"type": "worker", "index": 0}})}, "ps tasks"),
    ],
)
def test_refused_settings(settings, environ, words, monkeypatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(RunError) as info:
        distribute.check_settings(settings)
    assert info.value.code == "KS707" and words in str(info.value) and info.value.hint


@pytest.mark.parametrize(
    ("settings", "fit", "words"),
    [
        ({"strategy": "parameter_server"}, {}, "use multi_worker_mirrored"),
        ({"strategy": "multi_worker_mirrored", "devices": ["/gpu:0"]}, {}, "every GPU of each worker"),
        ({"strategy": "multi_worker_mirrored"}, {"validation_split": 0.1}, "use data.split.validation"),
        ({"strategy": "one_device", "devices": ["/cpu:0", "/cpu:1"]}, {}, "lists 2"),
        ({"strategy": "default", "devices": ["/cpu:0"]}, {}, "default device"),
        ({"strategy": "mirrored", "devices": []}, {}, "is empty"),
    ],
)
def test_refused_by_validate(settings, fit, words) -> None:
    from kerasspec.loader import LoadedSpec, SourceMap
    from kerasspec.validate import validate_loaded

    spec = {"kerasspec": 1, "name": "d", "model": {"input": [2], "layers": ["Flatten"]}, "distribute": settings, "fit": fit}
    found = validate_loaded(LoadedSpec(spec, SourceMap("<d>"))).diagnostics
    assert [d.code for d in found] == ["KS707"] and words in found[0].text, [d.format() for d in found]


def test_refusals_point_at_the_spec(tmp_path: Path, monkeypatch, keras_module) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    spec = write_spec(tmp_path, SPEC + "distribute: {strategy: parameter_server}\n", "ps.yaml")
    error = fails(spec, tmp_path / "a", "KS707", "ParameterServerStrategy", "tf.distribute",
                  position=position_of(spec, "parameter_server"))
    assert "multi_worker_mirrored" in error.diagnostics[0].hint
    plain = write_spec(tmp_path, SPEC)
    fails(plain, tmp_path / "b", "KS707", "TF_CONFIG", overrides=["distribute.strategy=multi_worker_mirrored"])
    fails(plain, tmp_path / "c", "KS707", "validation_split", overrides=[
        "distribute.strategy=multi_worker_mirrored", "data.split={test: 0.25}", "fit.validation_split=0.2"])
    fails(plain, tmp_path / "d", "KS707", "no device '/gpu:7'", "/cpu:0", overrides=["distribute={strategy: mirrored, devices: [/gpu:7]}"])


# ----------------------------------------------------------------------------- one device, mirrored


def test_one_device_matches_the_default(tmp_path: Path, keras_module) -> None:
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    single = single_run(tmp_path)
    one = run(load_and_validate(tmp_path / "spec.yaml", overrides=["distribute={strategy: one_device, devices: [/cpu:0]}"]), out=tmp_path / "one",
              verbose=0)
    assert_close(one.model, single.model, atol=0.0)
    assert json.loads((tmp_path / "one" / "run.json").read_text())["distribute"] == {
        "strategy": "one_device", "replicas": 1, "workers": 1}


MIRRORED = """\
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)  # before TF starts
from kerasspec.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_mirrored_over_two_logical_cpus_matches_one_device(tmp_path: Path, keras_module) -> None:
    spec = write_spec(tmp_path, SPEC)
    # Keras's own array shuffle: the same on one device and on two replicas.
    args = [sys.executable, "-c", MIRRORED, "run", str(spec), "--out", str(tmp_path / "mirrored"), "--verbose", "0",
            "--set", "distribute={strategy: mirrored, devices: [/cpu:0, /cpu:1]}", "--set", "fit.shuffle=true"]
    [(code, log)] = run_together([(args, env())], tmp_path, tmp_path / "logs")
    assert code == 0, log[-3000:]

    import kerasspec
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    single = run(load_and_validate(spec, overrides=["fit.shuffle=true"]), out=tmp_path / "single", verbose=0)
    mirrored = kerasspec.load_model(tmp_path / "mirrored" / "model.keras")
    assert_close(mirrored, single.model)
    with pytest.raises(AssertionError):  # the tolerance can fail: the weights moved in training
        assert_close(mirrored, keras_module.models.clone_model(single.model))
    run_info = json.loads((tmp_path / "mirrored" / "run.json").read_text())
    assert run_info["status"] == "complete" and run_info["distribute"] == {"strategy": "mirrored", "replicas": 2, "workers": 1}
    history = json.loads((tmp_path / "mirrored" / "history.json").read_text())
    np.testing.assert_allclose(history["loss"], single.history["loss"], rtol=1e-5)


# ----------------------------------------------------------------------------- two workers


def test_two_workers_train_one_model_and_leave_one_run_folder(tmp_path: Path, keras_module) -> None:
    spec = write_spec(tmp_path, SPEC)
    out = tmp_path / "runs" / "together"
    worker_tmp = tmp_path / "worker_tmp"  # where the non-chief's temporary folder goes (TMPDIR)
    worker_tmp.mkdir()
    commands = workers([str(spec), "--out", str(out), "--verbose", "2", "--set", "distribute.strategy=multi_worker_mirrored"],
                       TMPDIR=str(worker_tmp))
    (chief_code, chief_log), (worker_code, worker_log) = run_together(commands, tmp_path, tmp_path / "logs")
    assert chief_code == 0, chief_log[-3000:]
    assert worker_code == 0, worker_log[-3000:]

    # One run folder, the chief's; the other worker's temporary folder is gone.
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["together"]
    assert f"run folder: {out};" in chief_log
    used = re.search(r"this worker's files go to (\S+) \(removed", worker_log)
    assert used and Path(used.group(1)).parent == worker_tmp, worker_log[-3000:]
    assert not Path(used.group(1)).exists() and not list(worker_tmp.iterdir())
    assert "worker 1 done; the chief writes the run folder" in worker_log
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["status"] == "complete" and run_info["distribute"] == {
        "strategy": "multi_worker_mirrored", "replicas": 2, "workers": 2}
    assert not (out / "backup").exists()

    # The model trained together is the one a single worker trains (same seed, data and global batch).
    import kerasspec

    single = single_run(tmp_path)
    together = kerasspec.load_model(out / "model.keras")
    assert_close(together, single.model)
    history = json.loads((out / "history.json").read_text())
    assert list(history) == list(single.history) and len(history["loss"]) == 2
    np.testing.assert_allclose(history["loss"], single.history["loss"], rtol=1e-5)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and metrics["loss"] == pytest.approx(single.metrics["loss"], rel=1e-5)



def test_two_workers_stopped_mid_epoch_resume_together(tmp_path: Path, keras_module) -> None:
    """SIGTERM to both workers mid-epoch (each paused after the same batch), then --resume on both:
    the non-chief restores the chief's backup, and the model ends as a single worker's does."""
    from tests.test_interrupt import PAUSE_MODULE

    (tmp_path / "pause_callback.py").write_text(PAUSE_MODULE, encoding="utf-8")
    go = tmp_path / "go"
    pause = f"{{type: kstest>PauseOnce, marker: {tmp_path / 'paused'}, wait_for: {go}}}"
    text = SPEC.replace("seed: 3\n", "seed: 3\nimports: [pause_callback]\n").replace(
        "fit: {", f"distribute: {{strategy: multi_worker_mirrored}}\nfit: {{callbacks: [{pause}], ")
    spec = write_spec(tmp_path, text)
    out = tmp_path / "runs" / "cut"
    worker_tmp = tmp_path / "worker_tmp"
    worker_tmp.mkdir()
    logs = tmp_path / "cut_logs"
    procs = start(workers([str(spec), "--out", str(out), "--verbose", "2"], TMPDIR=str(worker_tmp)), tmp_path, logs)
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(list(tmp_path.glob("paused.*"))) < 2 and all(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(tmp_path.glob("paused.*"))) == 2, "the workers never reached epoch 1, batch 1"
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        go.write_text("go")
    finally:
        (chief_code, chief_log), (worker_code, worker_log) = finish(procs, logs)
    assert chief_code == 143, chief_log[-3000:]
    assert worker_code == 143, worker_log[-3000:]
    assert chief_log.strip().splitlines()[-1] == (
        f"kerasspec run: stopped by SIGTERM; continue after epoch 1 (its backup) with: kerasspec run --resume {out}")
    assert worker_log.strip().splitlines()[-1] == (
        "kerasspec run: worker 1 stopped by SIGTERM (its temporary folder is removed); continue the run with: "
        f"kerasspec run --resume {out} on every worker, {out} being the chief's run folder")
    assert not list(worker_tmp.iterdir())  # removed on the way out too
    assert json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"] == 1

    resumed = run_together(workers(["--resume", str(out), "--verbose", "2"], TMPDIR=str(worker_tmp)), tmp_path, tmp_path / "logs")
    for code, log in resumed:
        assert code == 0, log[-3000:]
    assert not list(worker_tmp.iterdir()) and [p.name for p in (tmp_path / "runs").iterdir()] == ["cut"]
    assert json.loads((out / "run.json").read_text())["status"] == "complete"

    import kerasspec
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    single = run(load_and_validate(spec, overrides=["distribute="]), out=tmp_path / "single", verbose=0)  # (the markers exist: no pause)
    assert_close(kerasspec.load_model(out / "model.keras"), single.model)
    np.testing.assert_allclose(json.loads((out / "history.json").read_text())["loss"], single.history["loss"], rtol=1e-5)


def test_data_parallel_devices_and_batch_sizes_are_checked_by_validate() -> None:
    from kerasspec.loader import load_text
    from kerasspec.validate import validate_loaded

    def found(distribute: str, fit: str) -> list[tuple[str, str]]:
        text = (f"kerasspec: 1\nname: dp\nmodel:\n  input: [3]\n  layers: [{{type: Dense, units: 1}}]\n"
                f"distribute: {distribute}\nfit: {fit}\n")
        return [(d.code, d.path) for d in validate_loaded(*load_text(text)).diagnostics]

    assert found("{strategy: data_parallel, devices: [cpu:0, /cpu:0]}", "{batch_size: 4}") == [("KS707", "distribute.devices")]
    assert found("{strategy: data_parallel, devices: [cpu:0, cpu:1]}", "{batch_size: 33}") == [("KS707", "fit.batch_size")]
    assert found("{strategy: data_parallel, devices: [cpu:0, cpu:1]}", "{batch_size: 32}") == []
