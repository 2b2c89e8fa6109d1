"""SIGINT and SIGTERM during `kerasspec run`: a clean stop (exit 130/143, one line with the
`--resume` command), then `--resume` ends bit-identical to a run that never stopped.

A test callback (PAUSE_MODULE, loaded through the spec's `imports:`) marks one batch of one
epoch: it writes a marker file there and can wait for the test, or signal its own process,
so the signal lands mid-epoch every time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_runner import TINY, assert_same_weights, epoch_recorder, write_spec

PAUSE_MODULE = '''\
"""Test callback: at one batch of one epoch, write a marker file, then signal this process
(`send`) and/or wait until the file `wait_for` exists. Only once: not in a run that starts
with a marker there."""
import os
import signal
import time
from pathlib import Path

import keras


@keras.saving.register_keras_serializable(package="kstest")
class PauseOnce(keras.callbacks.Callback):
    def __init__(self, marker, epoch=1, batch=1, wait_for=None, send=None, timeout=120.0):
        super().__init__()
        self.marker, self.epoch, self.batch = marker, epoch, batch
        self.wait_for, self.send, self.timeout = wait_for, send, timeout
        self._epoch = None

    def on_train_begin(self, logs=None):  # (each worker of a cluster pauses, before any of them does)
        marker = Path(self.marker)
        self._done = bool(list(marker.parent.glob(marker.name + ".*")))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._done or (self._epoch, batch) != (self.epoch, self.batch):
            return
        Path(f"{self.marker}.{os.getpid()}").write_text("paused")
        if self.send:
            os.kill(os.getpid(), getattr(signal, self.send))
        end = time.monotonic() + self.timeout
        while self.wait_for and not Path(self.wait_for).exists() and time.monotonic() < end:
            time.sleep(0.02)

    def get_config(self):
        return {"marker": self.marker, "epoch": self.epoch, "batch": self.batch, "wait_for": self.wait_for,
                "send": self.send, "timeout": self.timeout}
'''
TIMEOUT = 180  # seconds for one `kerasspec run` subprocess


def paused_spec(folder: Path, name: str = "spec.yaml") -> Path:
    """TINY (5 batches an epoch, 4 epochs) with the pause callback at epoch 1, batch 1."""
    (folder / "pause_callback.py").write_text(PAUSE_MODULE, encoding="utf-8")
    text = TINY.replace("seed: 3\n", "seed: 3\nimports: [pause_callback]\n")
    text += f"  callbacks:\n    - {{type: kstest>PauseOnce, marker: {folder / 'paused'}}}\n"
    return write_spec(folder, text, name)


def env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k != "TF_CONFIG"}, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}


def markers(folder: Path) -> list[Path]:
    return sorted(folder.glob("paused.*"))


def epochs_in(run_dir: Path) -> list[int]:
    return [r["epoch"] for r in json.loads((run_dir / "history.partial.json").read_text())]


@pytest.fixture(scope="module")
def whole(tmp_path_factory, keras_module):
    """The run that is never stopped (in this process; the marker exists, so it does not pause)."""
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    folder = tmp_path_factory.mktemp("whole")
    spec = paused_spec(folder)
    (folder / "paused.0").write_text("not this time")
    return run(load_and_validate(spec), out=folder / "run", verbose=0)


def test_sigterm_mid_epoch_then_resume_is_bit_identical(tmp_path: Path, whole, keras_module) -> None:
    spec = paused_spec(tmp_path)
    cut, go = tmp_path / "cut", tmp_path / "go"
    args = [sys.executable, "-m", "kerasspec", "run", str(spec), "--out", str(cut), "--verbose", "0",
            "--set", f"fit.callbacks[0].wait_for={go}"]
    proc = subprocess.Popen(args, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not markers(tmp_path) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert markers(tmp_path), f"the run never reached epoch 1, batch 1: {proc.poll()=}"
        assert epochs_in(cut) == [0]  # epoch 0 is recorded (and backed up); epoch 1 is under way
        proc.send_signal(signal.SIGTERM)
        go.write_text("go")  # the callback returns; the next batch does not start
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == (
        f"kerasspec run: stopped by SIGTERM; continue after epoch 1 (its backup) with: kerasspec run --resume {cut}")
    assert "Traceback" not in stderr
    # What the stopped run left: the backup of epoch 0's end, its history, no model.
    assert json.loads((cut / "backup" / "training_metadata.json").read_text())["epoch"] == 1
    assert epochs_in(cut) == [0] and not (cut / "model.keras").exists()
    assert json.loads((cut / "run.json").read_text())["status"] == "running"

    resumed = subprocess.run([sys.executable, "-m", "kerasspec", "run", "--resume", str(cut), "--verbose", "0"],
                             cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    import kerasspec

    assert_same_weights(kerasspec.load_model(cut / "model.keras"), whole.model)
    assert json.loads((cut / "history.json").read_text()) == whole.history
    assert json.loads((cut / "metrics.json").read_text()) == whole.metrics
    info = json.loads((cut / "run.json").read_text())
    assert info["status"] == "complete" and len(info["resumed"]) == 1 and info["epochs_run"] == 4
    assert not (cut / "backup").exists() and not (cut / "history.partial.json").exists()


def test_sigint_in_process_raises_run_interrupted_and_resumes(tmp_path: Path, whole, keras_module) -> None:
    from kerasspec import load_and_validate
    from kerasspec.runner import run
    from kerasspec.runner.callbacks import RunInterrupted

    spec = paused_spec(tmp_path)
    cut = tmp_path / "cut"
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(RunInterrupted) as info:  # a KeyboardInterrupt, so Ctrl-C handlers still see it
        run(load_and_validate(spec, overrides=["fit.callbacks[0].send=SIGINT"]), out=cut, verbose=0)
    assert signal.getsignal(signal.SIGINT) is before  # the run's handlers are gone again
    stop = info.value
    assert isinstance(stop, KeyboardInterrupt) and stop.exit_code == 130 and stop.signum == signal.SIGINT
    assert str(stop) == f"kerasspec run: stopped by SIGINT; continue after epoch 1 (its backup) with: kerasspec run --resume {cut}"
    assert epochs_in(cut) == [0] and not (cut / "model.keras").exists()

    resumed = run(resume=cut, verbose=0)
    assert_same_weights(resumed.model, whole.model)
    assert resumed.history == whole.history and resumed.metrics == whole.metrics


# ----------------------------------------------------------------------------- the guard itself


class Caught(Exception):
    pass


@pytest.fixture
def safety_net():
    """Our own handlers for both signals while a test sends them to this process, so a guard
    that failed to install could not end the test session."""
    def catch(signum, frame):
        raise Caught(signum)

    previous = {s: signal.signal(s, catch) for s in (signal.SIGINT, signal.SIGTERM)}
    yield catch
    for s, handler in previous.items():
        signal.signal(s, handler)


def send(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(0.01)  # the handler runs in the main thread at the next bytecode


def test_signal_guard(safety_net, keras_module) -> None:
    from kerasspec.runner.callbacks import RunInterrupted, SignalGuard

    # Outside fit: the signal stops the run at once.
    with pytest.raises(RunInterrupted) as info, SignalGuard():
        send(signal.SIGTERM)
    assert info.value.exit_code == 143 and str(info.value) == "stopped by SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is safety_net and signal.getsignal(signal.SIGINT) is safety_net
    # Inside fit (deferred): only noted, until the next check; a second signal acts at once.
    with SignalGuard() as guard:
        with pytest.raises(RunInterrupted), guard.deferred():
            send(signal.SIGINT)
            assert guard.signum == signal.SIGINT
            assert signal.getsignal(signal.SIGINT) is safety_net  # the previous handler is back
            with pytest.raises(Caught):
                send(signal.SIGINT)
            assert guard.signum == signal.SIGINT
    # Nothing left installed.
    assert signal.getsignal(signal.SIGINT) is safety_net


def test_signal_before_training_leaves_nothing(tmp_path: Path, safety_net, keras_module) -> None:
    from kerasspec import load_and_validate
    from kerasspec.runner import run
    from kerasspec.runner.callbacks import RunInterrupted

    (tmp_path / "stop_now.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n", encoding="utf-8")
    spec = write_spec(tmp_path, TINY.replace("seed: 3\n", "seed: 3\nimports: [stop_now]\n"))
    with pytest.raises(RunInterrupted) as info:
        run(load_and_validate(spec), out=tmp_path / "run", verbose=0)
    assert str(info.value) == ("kerasspec run: stopped by SIGTERM before training started; "
                               "no run folder was made, so there is nothing to resume")
    assert not (tmp_path / "run").exists()


def test_signal_after_the_last_epoch_resumes_without_training(tmp_path: Path, whole, safety_net, keras_module) -> None:
    """A signal once fit has ended (here: as it ends) stops the run before it evaluates and saves;
    the backup of the last epoch stays, so --resume trains no epoch again and ends the same."""
    import keras

    from kerasspec import load_and_validate
    from kerasspec.runner import run
    from kerasspec.runner.callbacks import RunInterrupted

    class SignalAtTheEnd(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            send(signal.SIGTERM)

    spec = paused_spec(tmp_path)
    (tmp_path / "paused.0").write_text("no pause")
    cut = tmp_path / "cut"
    with pytest.raises(RunInterrupted) as info:
        run(load_and_validate(spec), out=cut, verbose=0, callbacks=[SignalAtTheEnd()])
    assert "continue after epoch 4 (its backup)" in str(info.value) and info.value.exit_code == 143
    assert epochs_in(cut) == [0, 1, 2, 3] and not (cut / "model.keras").exists()
    counter = epoch_recorder()
    resumed = run(resume=cut, verbose=0, callbacks=[counter])
    assert counter.seen == []
    assert_same_weights(resumed.model, whole.model)
    assert resumed.history == whole.history and resumed.metrics == whole.metrics
