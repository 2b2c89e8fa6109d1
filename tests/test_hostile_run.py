"""A hostile spec, spec folder or run folder reaches nothing outside and loses no work (issue 13).

- tests/fixtures/hostile/run/*/: one attack each (README.md there), run in this process: the
  expected error code, and not one file changed or added anywhere in the temporary folder.
- kill -9 at several moments of a real run (subprocesses, in parallel): every file under its
  final name is whole, and --resume ends as the run that was never stopped.
- a full disk and a read-only run folder (a small tmpfs, where this machine may mount one).
- two runs that take the same default folder in the same second; a damaged backup.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from kerasspec.errors import KerasspecError
from kerasspec.runner import artifacts
from tests.conftest import FIXTURES, ROOT
from tests.test_runner import TINY, assert_same_weights, epoch_recorder, write_spec

HOSTILE = FIXTURES / "hostile" / "run"
CASES = sorted(p.name for p in HOSTILE.iterdir() if (p / "expect.yaml").is_file())
TIMEOUT = 180
SECRET = "TOPSECRET: outside every folder a run may use\n"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and link under ``folder``: its content hash (or where the link points)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path)] = "-> " + os.readlink(path)
        elif path.is_file():
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[str(path)] = "folder"
    return found


def world(case: str, tmp_path: Path) -> tuple[Path, dict]:
    """The fixture copied to tmp_path/world, with its secret files and its symlinks."""
    place = tmp_path / "world"
    shutil.copytree(HOSTILE / case, place, symlinks=True)
    (place / "secret.txt").write_text(SECRET)
    (place / "secret.weights.h5").write_text(SECRET)
    expect = yaml.safe_load((place / "expect.yaml").read_text())
    for link, target in (expect.get("links") or {}).items():
        (place / link).symlink_to(target)
    return place, expect


@pytest.mark.parametrize("case", CASES)
def test_hostile_fixture(case: str, tmp_path: Path, monkeypatch, keras_module) -> None:
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    place, expect = world(case, tmp_path)
    monkeypatch.chdir(tmp_path)  # a default run folder would go here
    before = snapshot(tmp_path)
    with pytest.raises(KerasspecError) as info:
        if expect["how"] == "run":
            run(load_and_validate(place / "spec" / "spec.yaml"), out=place / "out", verbose=0)
        else:
            spec_folder = place / expect["spec_folder"] if expect.get("spec_folder") else None
            run(resume=place / "run", spec_folder=spec_folder, verbose=0)
    error = info.value
    assert error.diagnostics[0].code == expect["code"], str(error)
    for words in expect.get("words", []):
        assert words in str(error), f"{words!r} not in {error}"
    assert "\n" not in error.diagnostics[0].format()  # one line
    assert snapshot(tmp_path) == before  # nothing written anywhere, nothing outside copied in


# ----------------------------------------------------------------------------- resuming: where it may read


def test_resume_reads_its_data_only_from_a_folder_the_user_names(tmp_path: Path, capsys, keras_module) -> None:
    """A csv spec resumes only with --spec-folder; run.json's record is the suggestion, not the rule."""
    import keras

    from kerasspec import load_and_validate
    from kerasspec.runner import run

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("interrupted by the test")

    folder = tmp_path / "spec folder"
    folder.mkdir()
    rows = ["a,b,c,d,y"] + [f"{i % 7},{i % 5},{i % 3},{i % 2},{i % 11}" for i in range(40)]
    (folder / "data.csv").write_text("\n".join(rows) + "\n")
    text = TINY.replace("  source: {type: sklearn, name: make_regression, n_samples: 120, n_features: 4, noise: 1, random_state: 0}",
                        "  source: {type: csv, path: data.csv, target: y}").replace("fit:\n  epochs: 4", "fit:\n  epochs: 2")
    spec = write_spec(folder, text)
    cut = tmp_path / "cut"
    with pytest.raises(RuntimeError):
        run(load_and_validate(spec), out=cut, verbose=0, callbacks=[Interrupt()])
    command = f"kerasspec run --resume {cut} --spec-folder '{folder}'"
    assert command in capsys.readouterr().err  # the advice names the folder

    before = snapshot(cut)
    with pytest.raises(KerasspecError) as info:
        run(resume=cut, verbose=0)
    assert info.value.code == "KS704" and command in str(info.value)
    assert snapshot(cut) == before
    result = run(resume=cut, spec_folder=folder, verbose=0)
    assert result.metrics["epochs_run"] == 2
    assert json.loads((cut / "run.json").read_text())["status"] == "complete"


def test_cli_spec_folder_goes_with_resume(tmp_path: Path, capsys) -> None:
    from kerasspec.cli import main

    assert main(["run", str(tmp_path / "spec.yaml"), "--spec-folder", str(tmp_path)]) == 2
    assert "--spec-folder goes with --resume" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the default run folder


def test_two_runs_in_the_same_second_take_the_next_folder(tmp_path: Path, monkeypatch, keras_module) -> None:
    """Another run makes the default folder (and its -2) between this run's choice and its mkdir."""
    from kerasspec import load_and_validate
    from kerasspec.runner import run, training_run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(artifacts, "timestamp", lambda: "20260101-000000")
    taken = [Path("runs/tiny/20260101-000000"), Path("runs/tiny/20260101-000000-2")]
    load_data = training_run.load_data

    def racing(*args, **kwargs):
        for folder in taken:
            folder.mkdir(parents=True)
        return load_data(*args, **kwargs)

    monkeypatch.setattr(training_run, "load_data", racing)
    spec = write_spec(tmp_path, TINY + "  callbacks:\n    - {type: CSVLogger, filename: logs/epochs.csv}\n")
    result = run(load_and_validate(spec, overrides=["fit.epochs=1"]), verbose=0)
    assert result.run_dir == Path("runs/tiny/20260101-000000-3")
    assert (result.run_dir / "logs" / "epochs.csv").is_file() and (result.run_dir / "model.keras").is_file()
    assert all(not any(folder.iterdir()) for folder in taken)  # the other runs' folders untouched


# ----------------------------------------------------------------------------- a damaged backup


@pytest.fixture(scope="module")
def cut_and_whole(tmp_path_factory, keras_module):
    """TINY run whole, and TINY stopped before its epoch 3 (backups of epochs 2 and 3 kept)."""
    import keras

    from kerasspec import load_and_validate
    from kerasspec.runner import run

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 3:
                raise RuntimeError("interrupted by the test")

    folder = tmp_path_factory.mktemp("tiny")
    spec = write_spec(folder, TINY)
    whole = run(load_and_validate(spec), out=folder / "whole", verbose=0)
    with pytest.raises(RuntimeError):
        run(load_and_validate(spec), out=folder / "cut", verbose=0, callbacks=[Interrupt()])
    return folder / "cut", whole


def backup_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "backup" / "training_metadata.json").read_text())


def test_backup_keeps_the_previous_epoch(cut_and_whole) -> None:
    cut, _ = cut_and_whole
    metadata = backup_of(cut)
    assert metadata["epoch"] == 3 and metadata["previous"]["epoch"] == 2
    assert sorted(p.name for p in (cut / "backup").iterdir()) == sorted(
        ["training_metadata.json", metadata["weights"], metadata["previous"]["weights"]])


def test_resume_falls_back_to_the_previous_backup(cut_and_whole, tmp_path: Path, capsys) -> None:
    from kerasspec.runner import run

    cut, whole = cut_and_whole
    run_dir = tmp_path / "run"
    shutil.copytree(cut, run_dir)
    newest = run_dir / "backup" / backup_of(run_dir)["weights"]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a disk that lost half of it
    counter = epoch_recorder()
    resumed = run(resume=run_dir, verbose=0, callbacks=[counter])
    assert "resuming from the previous one, of epoch 2" in capsys.readouterr().err
    assert counter.seen == [2, 3]
    assert_same_weights(resumed.model, whole.model)
    assert resumed.history == whole.history


def test_resume_with_no_readable_backup_says_what_to_do(cut_and_whole, tmp_path: Path) -> None:
    from kerasspec.runner import run

    cut, _ = cut_and_whole
    run_dir = tmp_path / "run"
    shutil.copytree(cut, run_dir)
    metadata = backup_of(run_dir)
    for name in (metadata["weights"], metadata["previous"]["weights"]):
        (run_dir / "backup" / name).write_bytes(b"not hdf5")
    before = snapshot(run_dir)
    with pytest.raises(KerasspecError) as info:
        run(resume=run_dir, verbose=0)
    assert info.value.code == "KS711" and f"rm -r {run_dir.resolve() / 'backup'}" in str(info.value)
    assert f"kerasspec run --resume {run_dir}" in str(info.value)
    assert {k: v for k, v in snapshot(run_dir).items() if not k.endswith("run.json")} == {
        k: v for k, v in before.items() if not k.endswith("run.json")}


# ----------------------------------------------------------------------------- kill -9


MOMENTS = ("epoch", "backup", "checkpoint", "model")


def whole_files(run_dir: Path) -> list[str]:
    """Check that every file under its final name is whole; returns the temporary files left."""
    import h5py

    import kerasspec
    from kerasspec.loader import load_text

    temporaries = []
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        if artifacts.TEMPORARY.match(path.name):
            temporaries.append(path.name)
            continue
        data = path.read_bytes()
        if path.suffix == ".json":
            json.loads(data)
        elif path.suffix == ".yaml":
            assert not load_text(data.decode())[1], path
        elif path.suffix == ".keras":
            kerasspec.load_model(path)
        elif path.suffix == ".h5":
            with h5py.File(path, "r") as file:
                file.visititems(lambda name, item: item[()] if isinstance(item, h5py.Dataset) else None)
        elif path.suffix == ".png":
            assert data.startswith(b"\x89PNG") and data.endswith(b"IEND\xaeB`\x82"), path
        elif path.suffix == ".csv":
            rows = list(csv.reader(data.decode().splitlines()))
            assert len({len(r) for r in rows}) == 1, path
    return temporaries


@pytest.fixture(scope="module", autouse=True)
def kill_runs(request, tmp_path_factory):
    """One `kerasspec run` per moment, started with the module (when a kill test is selected), so
    they import TensorFlow and reach their moments while the tests before them run in this process."""
    if not any(item.name.startswith("test_kill_9") for item in request.session.items):
        yield None
        return
    base = tmp_path_factory.mktemp("kill")
    env = {**{k: v for k, v in os.environ.items() if k != "TF_CONFIG"}, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = {}
    for moment in MOMENTS:
        folder = base / moment
        shutil.copytree(HOSTILE / "kill_9", folder)
        marker = folder / "marker"
        args = [sys.executable, "-m", "kerasspec", "run", str(folder / "spec.yaml"), "--out", str(folder / "run"), "--verbose", "0"]
        procs[moment] = (subprocess.Popen(args, cwd=folder, env={**env, "KS_KILL_AT": moment, "KS_KILL_MARKER": str(marker)},
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True), marker, folder / "run")
    try:
        yield procs
    finally:
        for proc, _, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.fixture(scope="module")
def killed(kill_runs):
    """Each run killed with SIGKILL at its moment (where it waits): moment -> (run folder, what it reached, stderr)."""
    results = {}
    deadline = time.monotonic() + TIMEOUT
    for moment, (proc, marker, run_dir) in kill_runs.items():
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        reached = marker.read_text() if marker.exists() else None
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=TIMEOUT)
        results[moment] = (run_dir, reached, stderr)
    return results


@pytest.fixture(scope="module")
def never_stopped(tmp_path_factory, keras_module):
    from kerasspec import load_and_validate
    from kerasspec.runner import run

    folder = tmp_path_factory.mktemp("whole")
    shutil.copytree(HOSTILE / "kill_9", folder / "spec")
    return run(load_and_validate(folder / "spec" / "spec.yaml"), out=folder / "run", verbose=0)


@pytest.mark.parametrize("moment", MOMENTS)
def test_kill_9_leaves_whole_files_and_resumes(moment: str, killed, never_stopped, keras_module) -> None:
    from kerasspec.runner import run

    run_dir, reached, stderr = killed[moment]
    assert reached is not None, f"the run never reached the moment {moment!r}: {stderr[-3000:]}"
    temporaries = whole_files(run_dir)
    if moment != "epoch":  # the writer was cut off: its half file is under a temporary name only
        assert Path(reached.split()[1]).name in temporaries
    assert not (run_dir / "model.keras").exists()
    resumed = run(resume=run_dir, verbose=0)
    assert_same_weights(resumed.model, never_stopped.model)
    assert resumed.history == never_stopped.history and resumed.metrics == never_stopped.metrics
    assert json.loads((run_dir / "run.json").read_text())["status"] == "complete"
    assert whole_files(run_dir) == []  # the killed run's temporaries are gone too
    epochs_csv = Path("logs") / "epochs.csv"  # CSVLogger's rows: those before the resume kept, none twice
    assert (run_dir / epochs_csv).read_text() == (never_stopped.run_dir / epochs_csv).read_text()


# ----------------------------------------------------------------------------- a full disk, a read-only folder


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 1 MiB tmpfs at tmp_path/disk (skipped where this machine cannot mount one)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def remount(mount: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mount)], check=True)


def test_full_disk_and_read_only_run_folder(small_disk: Path, cut_and_whole, tmp_path: Path, keras_module) -> None:
    """The disk fills while epoch 2 ends: the run stops with one line, keeping the backup of
    epoch 1; the folder read-only, --resume says so; with room again, it ends as never stopped."""
    import keras

    from kerasspec import load_and_validate
    from kerasspec.runner import run

    _, whole = cut_and_whole
    ballast = small_disk / "ballast"

    class FillTheDisk(keras.callbacks.Callback):  # (before the runner's callbacks: the backup is next)
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                stat = os.statvfs(small_disk)
                ballast.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 8192))  # room for the history, not the weights

    spec = write_spec(tmp_path, TINY)
    run_dir = small_disk / "run"
    with pytest.raises(KerasspecError) as info:
        run(load_and_validate(spec), out=run_dir, verbose=0, callbacks=[FillTheDisk()])
    error = str(info.value)
    assert info.value.code == "KS708" and "\n" not in error
    assert "cannot back up epoch 2" in error and "No space left on device" in error
    assert "the backup of epoch 1 is whole" in error and f"kerasspec run --resume {run_dir}" in error
    assert backup_of(run_dir)["epoch"] == 1
    assert whole_files(run_dir) == []

    remount(small_disk, "ro")  # read-only: resume refuses in one line, and a new run too
    try:
        before = snapshot(run_dir)
        with pytest.raises(KerasspecError) as info:
            run(resume=run_dir, verbose=0)
        assert info.value.code == "KS708" and "Read-only file system" in str(info.value)
        assert snapshot(run_dir) == before
        with pytest.raises(KerasspecError) as info:
            run(load_and_validate(spec), out=small_disk / "new", verbose=0)
        assert info.value.code == "KS708" and "Read-only file system" in str(info.value)
    finally:
        remount(small_disk, "rw")

    ballast.unlink()
    resumed = run(resume=run_dir, verbose=0)
    assert_same_weights(resumed.model, whole.model)
    assert resumed.history == whole.history


def test_checkpoint_fields_cannot_leave_where_the_path_was_confined(tmp_path: Path) -> None:
    """issue 13: `{epoch.__truediv__.__doc__[17]}`-style fields made `../x.keras` at save time (validate refuses
    them too; this holds a caller that skipped validation)."""
    import keras

    from kerasspec.errors import RunError
    from kerasspec.runner.callbacks import AtomicModelCheckpoint

    dots = "{epoch.__truediv__.__doc__[17]}"
    checkpoint = AtomicModelCheckpoint(str(tmp_path / "run" / "c" / f"{dots}{dots}{{epoch.__truediv__.__doc__[11]}}x.keras"))
    checkpoint.set_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    with pytest.raises(RunError, match="outside"):
        checkpoint._save_model(epoch=0, batch=None, logs={})
    assert not list(tmp_path.rglob("*.keras"))


def test_fuzzed_run_json_is_refused_or_read_never_a_traceback(tmp_path: Path) -> None:
    """issue 13: the fuzzer mutates run.json; resuming reads it or refuses it with a code, nothing else."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from kerasspec.runner.training_run import _load_run

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "spec.yaml").write_text((ROOT / "specs" / "regression.yaml").read_text())
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                               lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                               max_leaves=20)
    keys = st.sampled_from(["status", "spec", "spec_folder", "overrides", "started", "resumed", "distribute", "epochs_run"])

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.one_of(st.dictionaries(keys, json_values, max_size=6).map(json.dumps), json_values.map(json.dumps),
                     st.text(max_size=60)))
    def resume_with(text: str) -> None:
        (run_dir / "run.json").write_text(text)
        try:
            _load_run(run_dir)
        except KerasspecError:
            pass

    resume_with()
