"""Quiet by default (issue 20): no TensorFlow, absl or CUDA lines unless --debug; plain progress in a log.

Three subprocesses, each paying for TensorFlow's import once, with stdout and stderr piped (not a
terminal), as a user's log file or CI gets them: the CLI (build, export, run, run --quiet, a failing
run --quiet, one after the other in one process), `build --debug`, and the Python API. The rest
is in-process and needs no Keras.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from kerasspec import quiet
from tests.conftest import ROOT, SPECS
from tests.test_runner import TINY, write_spec

# What must not reach a user by default (the lines the issue quotes, and any absl/glog-formatted line).
NOISE = re.compile(r"cuInit|absl::InitializeLog|oneDNN|cuda_platform|cudart_stub|cpu_feature_guard|"
                   r"Skipping variable loading|^[IWE]\d{4} ", re.MULTILINE)

# Runs the CLI commands of argv[1] one after the other, each one's output between marker lines.
SCRIPT = r"""
import json, sys
from kerasspec.cli import main

for name, argv in json.loads(sys.argv[1]):
    for stream in (sys.stdout, sys.stderr):
        print(f"=== {name}", file=stream, flush=True)
    code = main(argv)
    for stream in (sys.stdout, sys.stderr):
        print(f"=== exit {code}", file=stream, flush=True)
"""


def _new_user_env() -> dict[str, str]:
    """The environment without the variable tests/conftest.py sets: as a user who set nothing."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def _sections(text: str) -> dict[str, tuple[str, str]]:
    """{command name: (its output, its exit line)} from the SCRIPT's markers."""
    found = re.findall(r"^=== (?!exit)(\S+)\n(.*?)^=== exit (\S+)\n", text, re.MULTILINE | re.DOTALL)
    return {name: (body, code) for name, body, code in found}


def test_cli_commands_print_no_tensorflow_noise_and_plain_progress(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, TINY)
    model = tmp_path / "quickstart.keras"
    commands = [
        ("build", ["build", str(SPECS / "quickstart.yaml"), "-o", str(model)]),
        ("export", ["export", str(model)]),  # its optimizer never trained: Keras's "Skipping variable loading"
        ("run", ["run", str(spec), "--set", "fit.epochs=2", "--out", str(tmp_path / "run")]),
        ("quiet", ["run", str(spec), "--set", "fit.epochs=2", "--out", str(tmp_path / "quiet"), "--quiet"]),
        ("failing", ["run", str(spec), "--set", "fit.epochs=0", "--out", str(tmp_path / "failing"), "--quiet"]),
    ]
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(commands)], capture_output=True, text=True,
                          cwd=ROOT, env=_new_user_env(), timeout=300)
    out, err = _sections(done.stdout), _sections(done.stderr)
    assert list(out) == [name for name, _ in commands] == list(err), done.stdout[-2000:] + done.stderr[-3000:]
    for name, _ in commands:
        assert not NOISE.search(out[name][0] + err[name][0]), (name, out[name][0][-2000:], err[name][0][-2000:])

    assert out["build"][1] == "0" and "quickstart" in out["build"][0] and f"saved {model}" in out["build"][0]
    assert out["export"][1] == "0" and out["export"][0].count("type: Dense") == 2
    # Not a terminal: one plain line per epoch and one for evaluate, no bars; the last line is always there.
    lines = out["run"][0].splitlines()
    assert out["run"][1] == "0" and "\x1b[" not in out["run"][0] and "\r" not in out["run"][0], out["run"][0]
    assert [line for line in lines if line.startswith("Epoch ")] == ["Epoch 1/2", "Epoch 2/2"]
    assert len([line for line in lines if re.match(r"\d+/\d+ - \d+s - ", line)]) == 3, lines
    assert lines[-1].startswith(f"run folder: {tmp_path / 'run'}; test loss "), lines
    assert err["run"][0] == ""
    # --quiet: nothing at all when it works (the run folder is complete); the error, and only it, when it fails.
    assert out["quiet"] == ("", "0") and err["quiet"] == ("", "0")
    assert json.loads((tmp_path / "quiet" / "run.json").read_text())["status"] == "complete"
    assert out["failing"] == ("", "1") and "error[" in err["failing"][0] and len(err["failing"][0].splitlines()) <= 2


def test_debug_shows_tensorflows_own_lines(tmp_path: Path) -> None:
    """The control: the lines the test above looks for are there when asked (a CPU machine logs them at import)."""
    done = subprocess.run([sys.executable, "-m", "kerasspec", "build", str(SPECS / "quickstart.yaml"), "--debug"],
                          capture_output=True, text=True, cwd=ROOT, env=_new_user_env(), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert NOISE.search(done.stderr), done.stderr[-3000:]


def test_the_python_api_prints_no_tensorflow_noise() -> None:
    probe = ("import kerasspec; model = kerasspec.build(kerasspec.load_and_validate('specs/quickstart.yaml')); "
             "print(model.count_params())")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=_new_user_env(),
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "4810", done.stdout + done.stderr[-3000:]
    assert not NOISE.search(done.stderr), done.stderr[-3000:]


# ----------------------------------------------------------------------------- in-process, no Keras

# Lines TensorFlow 2.21's import wrote here (noise), and lines that must come back to the user.
LINES = [
    ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR", True),
    ("I0000 00:00:1796162731.116048    1876 port.cc:153] oneDNN custom operations are on. You may see slightly "
     "different numerical results", True),
    ("I0000 00:00:1796162731.116446    1876 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will "
     "not be used.", True),
    ("E0000 00:00:1796162758.375019    2618 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error", True),
    ("W0612 13:04:05.123456   77 cuda_dnn.cc:8310] Unable to register cuDNN factory", True),
    ("To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the "
     "appropriate compiler flags.", True),
    ("Traceback (most recent call last):", False),
    ("ImportError: numpy.core.multiarray failed to import", False),
    ("UserWarning: something the user should see", False),
    ("I0000 is not a log line", False),
]


@pytest.mark.parametrize(("line", "noise"), LINES)
def test_startup_noise_is_only_tensorflows_lines(line: str, noise: bool) -> None:
    assert bool(quiet.STARTUP_NOISE.match(line)) == noise


def test_the_capture_writes_back_all_but_the_noise_and_everything_when_the_import_fails(capfd) -> None:
    text = "".join(f"{line}\n" for line, _ in LINES)
    with quiet._startup_log_captured():
        os.write(2, text.encode())
    assert capfd.readouterr().err == "".join(f"{line}\n" for line, noise in LINES if not noise)
    with pytest.raises(ImportError, match="no such module"), quiet._startup_log_captured():
        os.write(2, text.encode())
        raise ImportError("no such module")
    assert capfd.readouterr().err == text


@pytest.mark.parametrize(("verbose", "terminal", "notebook", "expected"), [
    ("auto", True, False, 1), ("auto", False, False, 2), ("auto", False, True, 1), (0, True, False, 0), (1, False, False, 1),
])
def test_auto_progress_is_bars_on_a_terminal_only(monkeypatch, verbose, terminal, notebook, expected) -> None:
    class Stdout:
        def isatty(self) -> bool:
            return terminal

    monkeypatch.setattr(sys, "stdout", Stdout())
    if notebook:
        monkeypatch.setitem(sys.modules, "ipykernel", object())
    else:
        monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert quiet.progress_verbosity(verbose) == expected


def test_a_command_leaves_the_process_as_it_found_it(monkeypatch) -> None:
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    logging.getLogger("absl").setLevel(logging.INFO)
    filters, meta_path = list(warnings.filters), list(sys.meta_path)
    with quiet.command_output(quiet=True) as output:
        assert output.quiet and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
        assert logging.getLogger("absl").level == logging.ERROR and len(sys.meta_path) == len(meta_path) + ("tensorflow" not in sys.modules)
    assert (os.environ["TF_CPP_MIN_LOG_LEVEL"], logging.getLogger("absl").level) == ("1", logging.INFO)
    assert warnings.filters == filters and sys.meta_path == meta_path and not quiet.OUTPUT.quiet
    with quiet.command_output(debug=True):  # --debug: TensorFlow's logging as the user set it
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1" and logging.getLogger("absl").level == logging.INFO
        assert warnings.filters == filters and sys.meta_path == meta_path
    logging.getLogger("absl").setLevel(logging.NOTSET)


def test_every_command_takes_quiet_and_debug_and_run_says_what_it_prints() -> None:
    from kerasspec.cli import parser

    commands = next(a for a in parser()._actions if a.dest == "command").choices
    for name, command in commands.items():
        assert {"--quiet", "--debug"} <= set(command._option_string_actions), name
    text = " ".join(commands["run"].format_help().split())  # (argparse wraps the lines)
    assert "run folder: DIR" in text and "--debug" in text and "one plain line per epoch" in text
