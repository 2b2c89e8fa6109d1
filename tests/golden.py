"""Golden files for diagnostics: `python -m tests.golden` rewrites them all (review the diff).

Each `tests/fixtures/invalid/NAME.yaml` has `NAME.expected`: one line per diagnostic,
`line:col: severity[CODE] message`, in the order validate reports them.
"""

from __future__ import annotations

from pathlib import Path

from kerasspec.validate import validate_file

INVALID = Path(__file__).resolve().parent / "fixtures" / "invalid"


def render(spec: Path) -> str:
    lines = []
    for diag in validate_file(spec).diagnostics:
        where = f"{diag.position.line}:{diag.position.col}" if diag.position else "?:?"
        lines.append(f"{where}: {diag.severity}[{diag.code}] {diag.text}")
    return "\n".join(lines) + "\n"


def main() -> None:
    for spec in sorted(INVALID.glob("*.yaml")):
        spec.with_suffix(".expected").write_text(render(spec), encoding="utf-8")
        print(f"wrote {spec.with_suffix('.expected').name}")


if __name__ == "__main__":
    main()
