"""Every error kerasspec reports: one root class, stable codes, a spec path and a position.

Checking is kept apart from reporting: validators return ``Diagnostic`` lists, and only
``report.py`` turns them into text. Code that must stop raises ``KerasspecError`` (or a
subclass) carrying the same fields, so the CLI prints both the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Where a code can arise: validate (and load) report findings; build, run and export raise after
# validate has passed (their messages are one line, with what was received and a hint).
LOAD, VALIDATE, BUILD, RUN, EXPORT = "load", "validate", "build", "run", "export"
# What a name may be (kerasspec.graph.rules.NAME_PATTERN), in words.
NAME_RULE = "names match [A-Za-z_][A-Za-z0-9_.-]*"


@dataclass(frozen=True)
class Code:
    """One entry of the catalogue: what a code means, what its message says, and how to fix it.

    ``message`` describes the message (``{...}`` stand for what was received); ``hint`` is the
    default fix, used when a raise gives none. ``stages`` says where the code can arise.
    A retired code keeps its number and is never reused.
    """

    code: str
    meaning: str
    message: str
    hint: str
    stages: tuple[str, ...]
    retired: bool = False

    @property
    def group(self) -> str:
        return GROUPS[self.code[2]]


GROUPS = {
    "0": "Loading", "1": "Structure", "2": "Names and arguments", "3": "Substitution", "4": "Graph",
    "5": "Blocks", "6": "Build", "7": "Data and runs", "8": "Export",
}

_V, _LV, _R, _BR, _VR, _VBR = (VALIDATE,), (LOAD, VALIDATE), (RUN,), (BUILD, RUN), (VALIDATE, RUN), (VALIDATE, BUILD, RUN)

# The catalogue. Stable codes: never renumber; a new meaning gets a new code, appended to its group;
# retire a code by marking it retired. docs/errors.md is generated from this table
# (`python -m kerasspec.errors > docs/errors.md`), and tests/test_errors_doc.py fails when they differ.
CATALOGUE: dict[str, Code] = {c.code: c for c in (
    # loading (KS0xx)
    Code("KS001", "file cannot be read", "cannot read the file: {why} (missing, a folder, a FIFO or device, not UTF-8)",
         "check the path; a spec is a regular UTF-8 file", (LOAD, VALIDATE)),
    Code("KS002", "YAML syntax error", "the YAML parser's problem, at its line and column",
         "fix the YAML at that position", _LV),
    Code("KS003", "duplicate key", "duplicate key {key!r} (first at line {n})", "keep one of the two", _LV),
    Code("KS004", "tag not allowed (Python and unknown tags are refused)", "tag {tag!r} is not allowed",
         "remove the tag: a spec is plain data", _LV),
    Code("KS005", "document is not a mapping", "a spec is a mapping of keys, not a {type}",
         "start from `kerasspec: 1`, `name:` and `model:`", _LV),
    Code("KS006", "limit exceeded (file size, depth, nodes, aliases, expansion, layers, digits)",
         "{what} is over the limit of {limit}", "no model needs so much; make the spec smaller", _LV),
    # structure (KS1xx)
    Code("KS101", "unknown key", "unknown key {key!r}", "remove it, or fix its spelling", _V),
    Code("KS102", "missing required key", "missing required key {key!r}", "add it", _V),
    Code("KS103", "wrong value type", "expected {types}, got {value}", "write a value of the expected type", _LV),
    Code("KS104", "value not allowed", "{value} is not allowed here (or: must be {bound}, got {value})",
         "use one of the values the message names", _VR),
    Code("KS105", "unsupported format version", "format version {n} is not supported",
         "this kerasspec reads `kerasspec: 1`", _V),
    Code("KS106", "invalid name", "{name!r} is not a valid name", f"{NAME_RULE} and `i` is reserved", _V),
    Code("KS107", "search path names nothing in the spec", "search.space: {path!r} names nothing in the spec ({why})",
         "write a spec path as --set takes it, naming a value the spec has (model.layers[0].units) or a declared var (vars.NAME)", _V),
    Code("KS108", "search direction against the objective's (a warning)",
         "direction {direction} contradicts {objective!r}, which should go {up or down} (a warning)",
         "use direction: maximize for accuracy-like quantities, minimize for losses", _V),
    # names and arguments (KS2xx)
    Code("KS201", "unknown type", "unknown {kind} type {name!r}", "fix the name (a did-you-mean is given when one is close)",
         _VBR),
    Code("KS202", "unknown constructor argument", "{class} has no argument {key!r}", "remove it, or fix its spelling", _V),
    Code("KS203", "wrong argument type", "{class}'s {key} must be {type}, got {value}",
         "write a value of the expected type", _VR),
    Code("KS204", "missing required argument", "{class} needs the argument {key!r}", "add `{key}: ...`", _V),
    Code("KS205", "refused type (would run code)", "{class} is refused: {reason}",
         "write the computation as layers and keras.ops calls", (VALIDATE, BUILD)),
    Code("KS206", "registered class needs imports", "{name!r} is a registered class, but nothing registers it",
         "list the module that registers it under `imports:`", (VALIDATE, BUILD)),
    # substitution (KS3xx)
    Code("KS301", "undefined name in ${...}", "{name!r} is not defined in '${{...}}'", "define it under `vars:`", _V),
    Code("KS302", "invalid ${...} expression", "'${{...}}' is not a valid expression ({why})",
         "use names, numbers, + - * / // % ** and comparisons", _V),
    Code("KS303", "invalid repeat group", "repeat must be a whole number ..., or: repeat groups do not nest",
         "a repeat group is `{repeat: N, layers: [...]}`", _V),
    Code("KS304", "var never used (a warning): a misspelt var, or one `--set` gave that the spec never reads",
         "var {name!r} is never used", "use it as ${name}, or remove it", _V),
    # graph (KS4xx)
    Code("KS401", "undefined reference", "{name!r} is not defined in {model}", "name a layer or input of that model",
         (VALIDATE, BUILD)),
    Code("KS402", "duplicate layer name", "the name {name!r} is used twice in this model", "rename one of them", _V),
    Code("KS403", "cycle in the layer graph", "the layers form a cycle: {a -> b -> a}", "break the cycle",
         (VALIDATE, BUILD)),
    Code("KS404", "input that nothing uses", "input {name!r} is not used by any layer",
         "remove it, or name it in a layer's `inputs`", _V),
    Code("KS405", "invalid edge (inputs/args/call/reuse)", "what the edge gets wrong",
         "connect layers with `inputs:` (or `args:`/`call:` for ops)", _V),
    Code("KS406", "invalid output", "this model has no output: it has no layers and no `outputs`",
         "add layers, or name the output with `outputs:`", _V),
    Code("KS407", "shapes do not fit", "{layer} gets shape {shape}, which does not fit {why}",
         "fix the shapes the message names", _V),
    Code("KS408", "layer that cannot be adapted", "`adapt` on {layer}: {why} (no adapt(), fed by a layer that trains, ...)",
         "adapt a preprocessing layer of the model, fed only by inputs, ops and layers without trainable weights", _V),
    Code("KS409", "layer no output needs (a warning): Keras leaves it out of the model",
         "layer {name!r} is not used by any output of this model (Keras leaves it out)",
         "connect it to an output, or remove it", _V),
    # blocks (KS5xx)
    Code("KS501", "unknown block parameter", "block {block} has no parameter {key!r}", "remove it, or fix its spelling", _V),
    Code("KS502", "missing block parameter", "block {block} needs the parameter {key!r}", "add `{key}: ...`", _V),
    Code("KS503", "unused block parameter", "block parameter {name!r} is never used (a warning)",
         "use it as ${name} in the block, or remove it", _V),
    Code("KS504", "cycle of blocks", "blocks use each other in a cycle: {a -> b -> a}", "break the cycle", _V),
    # build (KS6xx)
    Code("KS601", "Keras rejected the layer", "Keras rejected {class}: {Keras's message, on one line}",
         "fix the arguments Keras's message names", _BR),
    Code("KS602", "Keras rejected the model", "Keras rejected the model or its compile settings: {Keras's message}",
         "fix what Keras's message names", _BR),
    Code("KS603", "cannot load the model file", "cannot load {file}: {why} (damaged, refused as unsafe, or a bomb)",
         "load model files that keras.Model.save wrote; save the model again if the file is damaged", (BUILD, RUN, EXPORT)),
    Code("KS604", "weights do not fit", "cannot load weights from {file}: {why}",
         "the weights must come from a model of the same layers and shapes", _BR),
    Code("KS605", "imports failed", "cannot import {module!r} (looked first in {folder}): {error}",
         "install the module, or put it beside the spec", _BR),
    Code("KS606", "a package a feature needs is not installed",
         "the {feature} needs the {package} package, which is not installed", "pip install {package}", (RUN, EXPORT)),
    Code("KS607", "imports refused (--no-imports)", "the spec imports Python modules, and imports are refused",
         "drop --no-imports only for specs you trust: imported modules run code", _BR),
    Code("KS608", "not built: validate --build skips a spec with imports (a warning)",
         "not built: the spec imports Python modules, and validate never runs a spec's code",
         "pass --trust-imports to build it with its imports, for specs you trust", _V),
    # data and runs (KS7xx)
    Code("KS701", "data source cannot be loaded", "{source} failed / data file not found / {file} has no column {name!r}",
         "check the data source's name, path and columns", _R),
    Code("KS702", "data does not fit the model", "data gives {what}, but the model has {what}",
         "make the data's columns fit the model's inputs and outputs", _VR),
    Code("KS703", "invalid split", "what the split settings get wrong", "fix data.split or fit.validation_split", _VR),
    Code("KS704", "path leaves its allowed folder", "{what} {value!r} leaves {folder}",
         "write a path relative to that folder, without `..`, absolute paths or symlinks", _VBR),
    Code("KS705", "run folder exists", "the run folder {folder} exists; a run never writes over another",
         "choose another --out folder, or use --resume", _R),
    Code("KS706", "invalid override", "--set {override!r}: {why}", "write --set key.path=value", _R),
    Code("KS707", "distribution strategy not available", "{strategy} is not available: {why}",
         "choose a strategy and devices this machine has", _VR),
    Code("KS708", "cannot write a file (disk full, read-only folder)", "cannot write {file}: {why}",
         "free space, or write to another folder", (BUILD, RUN)),
    Code("KS709", "not a run folder to resume (or --spec-folder is not a folder)",
         "{folder} is not a kerasspec run folder: it has no spec.yaml",
         "--resume takes the folder an interrupted `kerasspec run` wrote", _R),
    Code("KS710", "the run has finished (nothing to resume)", "the run in {folder} has finished; there is nothing to resume",
         "start a new run to train more", _R),
    Code("KS711", "a run folder's record is damaged (run.json, history, backup)", "{file} is damaged: {why}",
         "delete the damaged record (the message says which), or start a new run", _R),
    Code("KS712", "a callback's file clashes (with the run's own files, a backup, another callback's file, a folder)",
         "{callback}'s {arg} {value!r} is the run's own {file} / lies inside {other} / is a folder",
         "give each callback its own file inside the run folder", _VR),
    Code("KS713", "a tune study cannot start or continue (its folder, its storage, its search space)",
         "kerasspec tune: {what is wrong with the study folder, study.json, the storage or the space}",
         "start a new study with --out, or continue the folder kerasspec tune wrote with --resume", _R),
    # export (KS8xx)
    Code("KS801", "model cannot be exported", "{what} cannot be written in a spec: {why}",
         "build that part from Keras layers and keras.ops calls, or register its class", (EXPORT,)),
    Code("KS802", "the exported spec cannot be written there", "{file} exists / is a folder / has no folder",
         "choose another output file", (EXPORT,)),
    Code("KS803", "the model cannot be served in that format", "{format} export of the model failed / does not take {what}: {why}",
         "use the other --format (saved_model takes string inputs), or change the layer the message names", (EXPORT, RUN)),
    Code("KS804", "the served model does not give the model's outputs",
         "the {format} artifact does not give the model's outputs: largest difference {d}, over the tolerance {t}",
         "use --format saved_model, or keep the model in float32 (mixed precision changes outputs in another runtime)",
         (EXPORT, RUN)),
)}

# code -> meaning, for everything that only needs the meaning (reports, SARIF rules).
CODES: dict[str, str] = {code: entry.meaning for code, entry in CATALOGUE.items()}


def default_hint(code: str) -> str | None:
    """The catalogue's hint for ``code`` (None for an unknown code)."""
    entry = CATALOGUE.get(code)
    return entry.hint if entry else None


def errors_markdown() -> str:
    """docs/errors.md, generated from the catalogue."""
    lines = [
        "# Diagnostic codes",
        "",
        "Every finding and error kerasspec reports carries one of these codes. Codes are stable:",
        "they are never renumbered, so CI filters and editor rules can rely on them; a retired code",
        "keeps its number. Generated from `kerasspec/errors.py` (`python -m kerasspec.errors > docs/errors.md`);",
        "`tests/test_errors_doc.py` fails when this page and the catalogue disagree.",
        "",
        "*Stages*: `load` and `validate` report findings before anything runs; `build`, `run` and",
        "`export` raise after validate has passed. *Default hint*: what the message adds when its",
        "raise gives no more precise one.",
    ]
    for digit, title in GROUPS.items():
        lines += ["", f"## {title}", "", "| code | meaning | the message says | default hint | stages |", "| --- | --- | --- | --- | --- |"]
        for entry in CATALOGUE.values():
            if entry.code[2] == digit:
                meaning = f"(retired) {entry.meaning}" if entry.retired else entry.meaning
                cells = [entry.code, meaning, entry.message, entry.hint, ", ".join(entry.stages)]
                lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Position:
    """A place in a source file, 1-based as editors show it."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class Diagnostic:
    """One finding. ``path`` is the spec path (``model.layers[2].units``)."""

    code: str
    message: str
    path: str = ""
    position: Position | None = None
    severity: str = ERROR
    hint: str | None = None

    def __post_init__(self) -> None:
        if self.code not in CATALOGUE or CATALOGUE[self.code].retired:
            raise ValueError(f"unregistered or retired diagnostic code {self.code}")

    @property
    def text(self) -> str:
        """The message with its hint, as one line."""
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def format(self, subject: str = "<spec>") -> str:
        """``file:line:col: severity[CODE] message (hint)``; without a position, ``subject`` and the spec path."""
        if self.position:
            return f"{self.position}: {self.severity}[{self.code}] {self.text}"
        where = f" {self.path}:" if self.path else ""
        return f"{subject}: {self.severity}[{self.code}]{where} {self.text}"


class KerasspecError(Exception):
    """The root of every error kerasspec raises on purpose."""

    default_code = "KS602"
    subject = "<spec>"  # what a diagnostic without a position is about

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        path: str = "",
        position: Position | None = None,
        hint: str | None = None,
        diagnostics: list[Diagnostic] | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.path = path
        self.position = position
        if hint is None and diagnostics is None:
            hint = default_hint(self.code)  # every raise says how to fix it
        self.hint = hint
        if "\n" in message and diagnostics is None:  # a raise after validate passed Keras's text on: one line
            message = " ".join(message.split())
        self.message = message
        self.diagnostics = diagnostics or [
            Diagnostic(self.code, message, path=path, position=position, hint=hint)
        ]
        super().__init__(message)

    def in_file(self, file: object) -> KerasspecError:
        """Say that findings without a position are about ``file`` (a model file), not a spec:
        ``m.keras: error[KS801] model.layers[3]: ...`` rather than ``<spec>: ...``."""
        self.subject = str(file)
        return self

    def __str__(self) -> str:
        # Computed on demand: positions are filled in from the source map after raising.
        return "\n".join(d.format(self.subject) for d in self.diagnostics)


class SpecInvalid(KerasspecError):
    """A spec failed validation; ``diagnostics`` holds every finding."""

    default_code = "KS101"


class BuildError(KerasspecError):
    """Keras refused something while building or compiling the model."""

    default_code = "KS601"


class RunError(KerasspecError):
    """Data, callbacks or the run folder could not be set up."""

    default_code = "KS701"


class ExportError(KerasspecError):
    """A Keras model cannot be written as a spec."""

    default_code = "KS801"
    subject = "<model>"


def whole_file(file: object) -> Position:
    """Where a problem with a file as a whole is reported: its line 1, column 1 (as the loader does)."""
    return Position(str(file), 1, 1)


MAX_SUGGESTED_LENGTH = 200


def suggested(hint: str | None, names: Iterable[str]) -> set[str]:
    """The names a did-you-mean hint offers: a missing argument an unknown one was suggested for is one finding, not two."""
    return {name for name in names if hint and f"{name!r}" in hint}


def did_you_mean(received: str, candidates: Iterable[str], n: int = 1) -> str | None:
    """A 'did you mean' hint chosen among the candidates that fit the place, or None."""
    if len(received) > MAX_SUGGESTED_LENGTH:  # no name is that long; comparing would cost quadratic time
        return None
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if received.lower() in lowered and lowered[received.lower()] != received:
        return f"did you mean {lowered[received.lower()]!r}?"
    cutoff = 0.5 if len(received) <= 4 else 0.6  # `L3` -> `L2` scores 0.5
    close = difflib.get_close_matches(received, pool, n=n, cutoff=cutoff)
    if not close:
        close = [lowered[m] for m in difflib.get_close_matches(received.lower(), list(lowered), n=n, cutoff=cutoff)]
    if not close:
        return None
    return "did you mean " + " or ".join(repr(c) for c in close) + "?"


# Keras 2 argument names that Keras 3's constructors refuse (or, for an optimizer's `decay`, ignore
# with a warning), checked against Keras 3.15: (kind or class, name) -> the hint of the unknown-argument
# finding (KS202). Fields in braces are filled from the arguments given, or else their defaults.
KERAS2_ARGUMENTS: dict[tuple[str, str], str] = {
    ("optimizers", "lr"): "did you mean 'learning_rate'? Keras 3 renamed it",
    ("optimizers", "decay"): "Keras 3 dropped it; Keras 2's decay is the schedule learning_rate: {{type: InverseTimeDecay, "
                             "initial_learning_rate: {learning_rate}, decay_steps: 1, decay_rate: {decay}}}",
    ("optimizers", "jit_compile"): "Keras 3 dropped it; compile's jit_compile covers the optimizer's step",
    ("ModelCheckpoint", "period"): "did you mean 'save_freq'? Keras 3 has no period: save_freq is epoch (after every "
                                   "epoch) or a number of batches",
    ("ReduceLROnPlateau", "epsilon"): "did you mean 'min_delta'? Keras 3 renamed it",
    ("layers", "batch_input_shape"): "Keras 3 dropped it; give the model's input the batch size: "
                                     "input: {{shape: [...], batch_size: N}}",
    ("layers", "batch_size"): "Keras 3 dropped it from layers; give the model's input the batch size: "
                              "input: {{shape: [...], batch_size: N}}",
    ("layers", "time_major"): "Keras 3 dropped it: recurrent layers take (batch, time, ...) inputs; remove it",
    **dict.fromkeys((("BatchNormalization", name) for name in ("fused", "virtual_batch_size", "adjustment")),
                    "Keras 3 dropped it; remove it"),
}


def keras2_argument(kind: str | None, owner: str, name: str, values: Mapping[str, Any] | None = None) -> str | None:
    """The hint for ``name``, an argument ``owner`` (a class of ``kind``) does not take, when Keras 2 had it;
    ``values`` fill the hint's fields (a missing or null one shows as `...`)."""
    hint = KERAS2_ARGUMENTS.get((owner, name)) or KERAS2_ARGUMENTS.get((kind or "", name))
    if hint is None:
        return None
    return hint.format_map(_Fields(values or {}))


class _Fields:
    """A hint's fields: the value, or `...` where there is none."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def __getitem__(self, key: str) -> Any:
        value = self.values.get(key)
        return "..." if value is None else value


def one_line(exc: BaseException, limit: int = 600) -> str:
    """An exception's message on one line (Keras's span several), cut at ``limit`` characters."""
    return " ".join(str(exc).split())[:limit] or type(exc).__name__


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == ERROR for d in diagnostics)


__all__ = [
    "CATALOGUE",
    "CODES",
    "Code",
    "ERROR",
    "WARNING",
    "BuildError",
    "Diagnostic",
    "ExportError",
    "KERAS2_ARGUMENTS",
    "KerasspecError",
    "Position",
    "RunError",
    "SpecInvalid",
    "default_hint",
    "did_you_mean",
    "errors_markdown",
    "has_errors",
    "keras2_argument",
    "one_line",
    "whole_file",
]


if __name__ == "__main__":
    print(errors_markdown(), end="")
