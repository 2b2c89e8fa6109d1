"""Every error kerasspec reports: one root class, stable codes, a spec path and a position.

Checking is kept apart from reporting: validators return ``Diagnostic`` lists, and only
``report.py`` turns them into text. Code that must stop raises ``KerasspecError`` (or a
subclass) carrying the same fields, so the CLI prints both the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

# Stable codes. Never renumber; retire a code by leaving it here, marked as retired.
# docs/errors.md documents each one, and tests/test_errors_doc.py keeps them in sync.
CODES: dict[str, str] = {
    # loading (KS0xx)
    "KS001": "file cannot be read",
    "KS002": "YAML syntax error",
    "KS003": "duplicate key",
    "KS004": "tag not allowed (Python and unknown tags are refused)",
    "KS005": "document is not a mapping",
    "KS006": "limit exceeded (file size, depth, nodes, aliases, expansion, layers, digits)",
    # structure (KS1xx)
    "KS101": "unknown key",
    "KS102": "missing required key",
    "KS103": "wrong value type",
    "KS104": "value not allowed",
    "KS105": "unsupported format version",
    "KS106": "invalid name",
    # names and arguments (KS2xx)
    "KS201": "unknown type",
    "KS202": "unknown constructor argument",
    "KS203": "wrong argument type",
    "KS204": "missing required argument",
    "KS205": "refused type (would run code)",
    "KS206": "registered class needs imports",
    # substitution (KS3xx)
    "KS301": "undefined name in ${...}",
    "KS302": "invalid ${...} expression",
    "KS303": "invalid repeat group",
    # graph (KS4xx)
    "KS401": "undefined reference",
    "KS402": "duplicate layer name",
    "KS403": "cycle in the layer graph",
    "KS404": "input that nothing uses",
    "KS405": "invalid edge (inputs/args/call/reuse)",
    "KS406": "invalid output",
    "KS407": "shapes do not fit",
    # blocks (KS5xx)
    "KS501": "unknown block parameter",
    "KS502": "missing block parameter",
    "KS503": "unused block parameter",
    "KS504": "cycle of blocks",
    # build and run (KS6xx)
    "KS601": "Keras rejected the layer",
    "KS602": "Keras rejected the model",
    "KS603": "cannot load the model file",
    "KS604": "weights do not fit",
    "KS605": "imports failed",
    # data and run (KS7xx)
    "KS701": "data source cannot be loaded",
    "KS702": "data does not fit the model",
    "KS703": "invalid split",
    "KS704": "path leaves its allowed folder",
    "KS705": "run folder exists",
    "KS706": "invalid override",
    "KS707": "distribution strategy not available",
    "KS708": "cannot write a file (disk full, read-only folder)",
    # export (KS8xx)
    "KS801": "model cannot be exported",
}

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
        if self.code not in CODES:
            raise ValueError(f"unregistered diagnostic code {self.code}")

    @property
    def text(self) -> str:
        """The message with its hint, as one line."""
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def format(self) -> str:
        where = str(self.position) if self.position else "<spec>"
        return f"{where}: {self.severity}[{self.code}] {self.text}"


class KerasspecError(Exception):
    """The root of every error kerasspec raises on purpose."""

    default_code = "KS602"

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
        self.hint = hint
        self.message = message
        self.diagnostics = diagnostics or [
            Diagnostic(self.code, message, path=path, position=position, hint=hint)
        ]
        super().__init__(message)

    def __str__(self) -> str:
        # Computed on demand: positions are filled in from the source map after raising.
        return "\n".join(d.format() for d in self.diagnostics)


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


MAX_SUGGESTED_LENGTH = 200


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


def one_line(exc: BaseException, limit: int = 600) -> str:
    """An exception's message on one line (Keras's span several), cut at ``limit`` characters."""
    return " ".join(str(exc).split())[:limit] or type(exc).__name__


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == ERROR for d in diagnostics)


__all__ = [
    "CODES",
    "ERROR",
    "WARNING",
    "BuildError",
    "Diagnostic",
    "ExportError",
    "KerasspecError",
    "Position",
    "RunError",
    "SpecInvalid",
    "did_you_mean",
    "has_errors",
    "one_line",
]
