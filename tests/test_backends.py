"""Keras backends (issue 17): `--backend`, run.json's record, and the JAX backend end to end.

The backend is fixed when Keras is first imported, so JAX runs in one subprocess that makes
every JAX check in turn (about 15 s) and prints its findings as JSON; this process compares
them with TensorFlow's. PyTorch: the same checks when torch is installed (CI has no torch).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SPECS

HAS_JAX = importlib.util.find_spec("jax") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None

# One process: build (TensorFlow not imported), run, interrupt and resume, data_parallel on two
# logical CPU devices, a tf.distribute strategy refused, then every seed spec's parameter count.
SCRIPT = r'''
import contextlib, io, json, signal, sys
from pathlib import Path

from kerasspec.cli import main

backend, specs, tmp = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
out = {"seconds": {}}
import time
start = time.monotonic()


def lap(name):
    out["seconds"][name] = round(time.monotonic() - start, 1)


def cli(*args):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(list(args))
    return code, stdout.getvalue(), stderr.getvalue()


# build: the backend chosen before Keras is imported; TensorFlow never imported
code, text, err = cli("build", "--backend", backend, str(specs / "quickstart.yaml"))
import keras
out["build"] = {"code": code, "backend": keras.backend.backend(), "tensorflow": "tensorflow" in sys.modules, "err": err[-500:]}

lap("build")

# run: run.json says which backend; exported.yaml validates; TensorFlow still not imported
code, text, err = cli("run", "--backend", backend, str(specs / "quickstart.yaml"), "--set", "fit.epochs=2",
                      "--out", str(tmp / "quick"), "--verbose", "0")
from kerasspec.validate import validate_file

info = json.loads((tmp / "quick" / "run.json").read_text())
out["run"] = {"code": code, "err": err[-500:], "info": info, "files": sorted(p.name for p in (tmp / "quick").iterdir()),
              "exported": [d.message for d in validate_file(tmp / "quick" / "exported.yaml").diagnostics],
              "tensorflow": "tensorflow" in sys.modules}

lap("run")

# a signal stops the run after its epoch; --resume (no --backend: the run's own) gives the same weights
sys.path.insert(0, str(Path.cwd()))
from tests.test_interrupt import paused_spec
from kerasspec import load_and_validate
from kerasspec.runner import run

spec = paused_spec(tmp)
(tmp / "paused.0").write_text("not this time")
# (shuffle off: Keras's JAX and torch data adapters shuffle with a generator the backup does not hold,
# so a resumed run's later epochs see other orders than the whole run's; the weights would differ)
whole = run(load_and_validate(spec, overrides=["fit.shuffle=false"]), out=tmp / "whole", verbose=0)
for marker in tmp.glob("paused.*"):
    marker.unlink()
code, text, err = cli("run", str(spec), "--set", "fit.callbacks[0].send=SIGINT", "--set", "fit.shuffle=false", "--out", str(tmp / "cut"), "--verbose", "0")
stopped = code
code, text, err = cli("run", "--resume", str(tmp / "cut"), "--verbose", "0")
resumed = keras.models.load_model(tmp / "cut" / "model.keras")
same = all(bool((a == b).all()) for a, b in zip(whole.model.get_weights(), resumed.get_weights(), strict=True))
out["resume"] = {"stopped": stopped, "code": code, "err": err[-500:], "same_weights": same,
                 "info": json.loads((tmp / "cut" / "run.json").read_text())}

lap("resume")

# keras.distribution's DataParallel over two logical CPU devices
code, text, err = cli("run", str(specs / "quickstart.yaml"), "--set", "fit.epochs=1", "--set",
                      "distribute={strategy: data_parallel, devices: ['cpu:0', 'cpu:1']}", "--out", str(tmp / "dp"),
                      "--verbose", "0")
dp = tmp / "dp" / "run.json"
try:
    devices = [str(d) for d in keras.distribution.list_devices()]
except Exception as exc:  # keras.distribution is JAX's
    devices = [f"{type(exc).__name__}: {exc}"]
out["data_parallel"] = {"code": code, "err": err[-800:], "devices": devices,
                        "info": json.loads(dp.read_text()) if dp.exists() else None}

lap("data_parallel")

# adapt: without tf.data, on the training rows alone (the held-out rows are 99 and 1000), under data_parallel too
ADAPT = """kerasspec: 1
name: adapt_numbers
seed: 1
model:
  type: functional
  inputs: {code: [1], amount: [1]}
  layers:
    - {type: Normalization, name: norm_code, inputs: code, adapt: {batch_size: 5}}
    - {type: Normalization, name: norm_amount, inputs: amount, adapt: {steps: 2}}
    - {type: Concatenate, inputs: [norm_code, norm_amount]}
    - {type: Dense, units: 1}
compile: {optimizer: sgd, loss: mse}
data:
  source: {type: npz, path: data.npz}
  split: {test: {first: 4}, validation: {first: 4}}
  features: {code: [0], amount: [1]}
fit: {epochs: 1, batch_size: 4, verbose: 0}
distribute: {strategy: data_parallel}
"""
import numpy as np

folder = tmp / "adapt"
folder.mkdir()
np.savez(folder / "data.npz", x=np.stack([[99.0] * 8 + list(range(1, 13)), [1000.0] * 8 + list(range(12))], 1),
         y=np.zeros(20))
(folder / "spec.yaml").write_text(ADAPT if backend == "jax" else ADAPT.replace("distribute: {strategy: data_parallel}\n", ""))
code, text, err = cli("run", str(folder / "spec.yaml"), "--out", str(folder / "run"), "--verbose", "0")
adapted = keras.models.load_model(folder / "run" / "model.keras") if code == 0 else None
out["adapt"] = {"code": code, "err": err[-800:],
                "means": [float(np.ravel(adapted.get_layer(n).mean)[0]) for n in ("norm_code", "norm_amount")] if adapted else None}

# a tf.distribute strategy: refused, naming what to use instead
code, text, err = cli("run", str(specs / "quickstart.yaml"), "--set", "distribute={strategy: mirrored}",
                      "--out", str(tmp / "mirrored"), "--verbose", "0")
out["mirrored"] = {"code": code, "err": err[-800:], "made": (tmp / "mirrored").exists()}

# text columns: refused on this backend, naming the one to use
import numpy as np
from kerasspec.errors import RunError
from kerasspec.runner.data import check_backend_takes

try:
    check_backend_takes({"words": np.array([["a"], ["b"]]), "n": np.zeros((2, 1))}, "data.source")
    out["text"] = None
except RunError as exc:
    out["text"] = str(exc)

lap("mirrored")

# every seed spec that builds without data: its parameter count
counts = {}
for path in sorted(specs.glob("*.yaml")):
    try:
        from kerasspec import build

        counts[path.name] = int(build(load_and_validate(path)).count_params())
    except Exception as exc:
        counts[path.name] = f"{type(exc).__name__}: {exc}"[:300]
out["counts"] = counts
lap("counts")
print("RESULT " + json.dumps(out))
'''


def run_backend(backend: str, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "TF_CONFIG")}
    env.update(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    script = tmp_path / "checks.py"
    script.write_text(SCRIPT, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), backend, str(SPECS), str(tmp_path)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def tensorflow_counts() -> dict[str, object]:
    """The same counts on TensorFlow (this process's backend)."""
    import keras

    from kerasspec import build, load_and_validate

    assert keras.backend.backend() == "tensorflow"
    counts: dict[str, object] = {}
    for path in sorted(SPECS.glob("*.yaml")):
        try:
            counts[path.name] = int(build(load_and_validate(path)).count_params())
        except Exception as exc:  # (reported below, by name)
            counts[path.name] = f"{type(exc).__name__}: {exc}"[:300]
    return counts


@pytest.fixture(scope="module")
def jax_results(tmp_path_factory) -> dict:
    if not HAS_JAX:
        pytest.skip("jax is not installed (pip install 'kerasspec[test]')")
    return run_backend("jax", tmp_path_factory.mktemp("jax"))


def test_build_on_jax_imports_no_tensorflow(jax_results: dict) -> None:
    build = jax_results["build"]
    assert build["code"] == 0, build["err"]
    assert build["backend"] == "jax"
    assert build["tensorflow"] is False


def test_run_on_jax_records_the_backend_and_exports(jax_results: dict) -> None:
    import jax

    run = jax_results["run"]
    assert run["code"] == 0, run["err"]
    assert run["info"]["status"] == "complete" and run["info"]["epochs_run"] == 2
    assert run["info"]["backend"] == {"name": "jax", "version": jax.__version__}
    assert {"model.keras", "exported.yaml", "metrics.json", "history.json"} <= set(run["files"])
    assert run["exported"] == []
    assert run["tensorflow"] is False  # sklearn data, callbacks, plots, model.keras: none needs TensorFlow


def test_signal_and_resume_on_jax(jax_results: dict) -> None:
    resume = jax_results["resume"]
    assert resume["stopped"] == 130
    assert resume["code"] == 0, resume["err"]
    assert resume["info"]["backend"]["name"] == "jax" and resume["info"]["resumed"]
    assert resume["same_weights"], "the resumed run differs from the whole one"


def test_data_parallel_on_two_cpu_devices(jax_results: dict) -> None:
    dp = jax_results["data_parallel"]
    assert dp["devices"][:2] == ["cpu:0", "cpu:1"], dp["devices"]
    assert dp["code"] == 0, dp["err"]
    assert dp["info"]["distribute"] == {"strategy": "data_parallel", "replicas": 2, "workers": 1}
    assert dp["info"]["status"] == "complete"
    # 1,149 training rows, batches of 32: the last batch (29) loses one row to split across 2 devices
    assert "the last 1 of the 1149 training rows are left out" in dp["err"]


def test_adapt_on_jax_reads_the_training_rows_alone(jax_results: dict) -> None:
    adapt = jax_results["adapt"]
    assert adapt["code"] == 0, adapt["err"]
    # mean of codes 1..12 (batches of 5); amounts 0..7: the first 2 batches of fit's batch_size 4
    assert adapt["means"] == pytest.approx([6.5, 3.5])


def test_tf_distribute_strategy_refused_on_jax(jax_results: dict) -> None:
    mirrored = jax_results["mirrored"]
    assert mirrored["code"] == 1
    assert "error[KS707] distribute.strategy mirrored needs Keras's tensorflow backend, and this run's is jax" in mirrored["err"]
    assert "--backend tensorflow" in mirrored["err"] and "strategy: data_parallel" in mirrored["err"]
    assert not mirrored["made"]


def test_text_columns_refused_on_jax(jax_results: dict) -> None:
    assert "error[KS702]" in jax_results["text"] and "jax backend has no string tensors" in jax_results["text"]
    assert "--backend tensorflow" in jax_results["text"]


def test_data_parallel_refuses_a_streamed_source() -> None:
    from kerasspec import load_and_validate
    from kerasspec.errors import SpecInvalid

    with pytest.raises(SpecInvalid) as info:
        load_and_validate(SPECS / "image_folder.yaml", overrides=["distribute={strategy: data_parallel}"])
    assert any(d.code == "KS707" and "data_parallel" in d.message for d in info.value.diagnostics)


def test_seed_specs_have_the_same_parameter_counts_on_jax(jax_results: dict) -> None:
    jax_counts, tf_counts = jax_results["counts"], tensorflow_counts()
    built = {name: n for name, n in tf_counts.items() if isinstance(n, int)}
    assert len(built) >= 10, tf_counts
    assert {name: jax_counts[name] for name in built} == built


def test_data_parallel_is_refused_on_tensorflow(tmp_path: Path) -> None:
    from kerasspec import load_and_validate
    from kerasspec.errors import RunError
    from kerasspec.runner import run

    validated = load_and_validate(SPECS / "quickstart.yaml", overrides=["distribute={strategy: data_parallel}"])
    with pytest.raises(RunError) as info:
        run(validated, out=tmp_path / "run", verbose=0)
    assert info.value.code == "KS707"
    assert "needs Keras's jax backend, and this run's is tensorflow" in str(info.value)
    assert "--backend jax" in str(info.value) and "mirrored" in str(info.value)


def test_backend_cannot_change_after_keras_is_imported(keras_module) -> None:
    from kerasspec.cli import main

    assert main(["build", "--backend", "jax", str(SPECS / "quickstart.yaml")]) == 2


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed (its wheels are too large for CI here)")
def test_torch_backend(tmp_path: Path) -> None:
    results = run_backend("torch", tmp_path)
    assert results["build"]["code"] == 0 and results["build"]["backend"] == "torch"
    assert results["run"]["code"] == 0 and results["run"]["info"]["backend"]["name"] == "torch"
    assert results["resume"]["code"] == 0
    assert results["adapt"]["code"] == 0 and results["adapt"]["means"] == pytest.approx([6.5, 3.5])
    assert results["mirrored"]["code"] == 1 and "KS707" in results["mirrored"]["err"]
    assert results["data_parallel"]["code"] == 1 and "needs Keras's jax backend" in results["data_parallel"]["err"]
