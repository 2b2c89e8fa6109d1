"""What an editor sees: yaml-language-server's time to first diagnostics, its typo findings, hovers.

    npm install -g yaml-language-server
    python bench/editor_diagnostics.py                    # the schema in schema/
    python bench/editor_diagnostics.py --against HEAD     # ... and the committed one, side by side

For each schema and case, a fresh server is started over stdio (as an editor does when a
file is opened), the spec is opened with a modeline pointing at a copy of the schema, and
the time from `didOpen` to the first `publishDiagnostics` is measured (`--repeat` times,
the schemas alternating; the median is printed). The `typos` case has a misspelt layer
type, a misspelt argument and a `stride` for `strides`; the script prints whether each is
flagged, the hover over `units` of a Dense layer, and whether completion inside a Dense
entry offers `activation` with its documentation. Only the standard library is needed.
"""

from __future__ import annotations

import argparse
import json
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema" / "kerasspec.schema.json"
QUICKSTART = ROOT / "specs" / "quickstart.yaml"

TYPOS = """\
kerasspec: 1
name: typos
model:
  input: [28, 28, 1]
  layers:
    - {type: Conv2D, filters: 8, kernel_size: 3, stride: 2}
    - Flatten
    - {type: Dens, units: 32}
    - {type: Dense, units: 10, activaton: relu}
"""
# A block-style Dense entry with the cursor on an empty line: completion should offer its arguments.
COMPLETION = "kerasspec: 1\nname: completion\nmodel:\n  input: [4]\n  layers:\n    - type: Dense\n      units: 3\n      \n"
# What the typos case must flag: (line, text of the key or value), 0-based lines.
EXPECTED = {"stride": (5, "stride"), "Dens": (7, "Dens"), "activaton": (8, "activaton")}


class Server:
    """A yaml-language-server process spoken to over stdio (LSP's JSON-RPC framing)."""

    def __init__(self, command: list[str], root: Path) -> None:
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        self.settings = {"yaml": {"validate": True, "hover": True, "completion": True, "schemaStore": {"enable": False}}}
        self.request("initialize", {
            "processId": None, "rootUri": root.as_uri(), "workspaceFolders": None,
            "capabilities": {"textDocument": {"hover": {"contentFormat": ["markdown", "plaintext"]},
                                              "publishDiagnostics": {}},
                             "workspace": {"configuration": True}},
        })
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": self.settings})

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = 0
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            self.messages.put(json.loads(stream.read(length)))

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: Any, timeout: float = 30) -> Any:
        self.next_id += 1
        self._send({"id": self.next_id, "method": method, "params": params})
        reply = self.wait(lambda m: m.get("id") == self.next_id and "method" not in m, timeout)
        return reply.get("result")

    def wait(self, match: Any, timeout: float = 30) -> dict[str, Any]:
        """The next message that ``match``es; requests from the server are answered meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            if "method" in message and "id" in message:  # a request from the server
                result: Any = None
                if message["method"] == "workspace/configuration":
                    result = [self.settings.get(item.get("section", ""), None) for item in message["params"]["items"]]
                self._send({"id": message["id"], "result": result})
                continue
            if match(message):
                return message

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=5)
            self.notify("exit", None)
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()


def measure(command: list[str], schema: Path, text: str, *, hover_on: str | None = None) -> dict[str, Any]:
    """One cold open: seconds to the first diagnostics, the diagnostics, and a hover."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(schema, folder / "schema.json")
        spec = folder / "spec.yaml"
        lines = [line for line in text.splitlines() if not line.startswith("# yaml-language-server:")]
        spec.write_text("\n".join(["# yaml-language-server: $schema=./schema.json", *lines]) + "\n")
        text = spec.read_text()
        uri = spec.as_uri()
        server = Server(command, folder)
        try:
            start = time.perf_counter()
            server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}})
            message = server.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                                  and m["params"]["uri"] == uri, timeout=120)
            seconds = time.perf_counter() - start
            result: dict[str, Any] = {"seconds": seconds, "diagnostics": message["params"]["diagnostics"]}
            if hover_on:  # "units" on the first line that has "type: Dense,"
                line_no, line = next((i, ln) for i, ln in enumerate(text.splitlines()) if "type: Dense," in ln)
                position = {"line": line_no, "character": line.index(hover_on) + 1}
                hover = server.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": position})
                contents = (hover or {}).get("contents", "")
                result["hover"] = contents.get("value", "") if isinstance(contents, dict) else str(contents)
                completion = "\n".join(["# yaml-language-server: $schema=./schema.json", *COMPLETION.splitlines()]) + "\n"
                server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                                         "contentChanges": [{"text": completion}]})
                line_no = len(completion.splitlines()) - 1
                items = server.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                                   "position": {"line": line_no, "character": 6}})
                items = items.get("items", []) if isinstance(items, dict) else items or []
                result["completion"] = {item["label"]: _documentation(item) for item in items}
            return result
        finally:
            server.close()


def _documentation(item: dict[str, Any]) -> str:
    doc = item.get("documentation", "")
    return doc.get("value", "") if isinstance(doc, dict) else str(doc)


def flagged(diagnostics: list[dict[str, Any]], header_lines: int = 1) -> dict[str, str | None]:
    """For each expected typo, the message of a diagnostic on its line and text, or None."""
    found: dict[str, str | None] = {}
    text_lines = TYPOS.splitlines()
    for key, (line, word) in EXPECTED.items():
        column = text_lines[line].index(word)
        hits = [d["message"] for d in diagnostics
                if d["range"]["start"]["line"] <= line + header_lines <= d["range"]["end"]["line"]
                and (d["range"]["start"]["line"] < line + header_lines or d["range"]["start"]["character"] <= column + 1)
                and (d["range"]["end"]["line"] > line + header_lines or d["range"]["end"]["character"] >= column)]
        found[key] = " | ".join(hits) if hits else None
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schema", type=Path, default=SCHEMA, help="the schema to measure (default: schema/)")
    parser.add_argument("--against", metavar="GIT_REF", help="also measure schema/kerasspec.schema.json at this commit")
    parser.add_argument("--spec", type=Path, action="append", default=[], help="another spec to time (repeatable)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server", default="yaml-language-server", help="the server's command (run with --stdio)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    options = parser.parse_args()
    executable = shutil.which(options.server)
    if executable is None:
        print(f"{options.server} not found: npm install -g yaml-language-server", file=sys.stderr)
        return 2
    command = [executable, "--stdio"]
    schemas = {"current": options.schema}
    with tempfile.TemporaryDirectory() as tmp:
        if options.against:
            old = Path(tmp) / "against.json"
            old.write_text(subprocess.run(["git", "show", f"{options.against}:schema/kerasspec.schema.json"], cwd=ROOT,
                                          check=True, capture_output=True, text=True).stdout)
            schemas = {options.against: old, **schemas}
        cases = {"quickstart": QUICKSTART.read_text(), "typos": TYPOS, **{p.stem: p.read_text() for p in options.spec}}
        runs_by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for _ in range(options.repeat):  # alternating schemas, so that a noisy machine hits both alike
            for label, schema in schemas.items():
                for case, text in cases.items():
                    runs_by_key.setdefault((label, case), []).append(
                        measure(command, schema, text, hover_on="units" if case == "typos" else None))
        report: dict[str, Any] = {}
        for (label, case), runs in runs_by_key.items():
            schema = schemas[label]
            last = runs[-1]
            entry: dict[str, Any] = {
                "schema_bytes": schema.stat().st_size,
                "seconds": [round(r["seconds"], 3) for r in runs],
                "median": round(statistics.median(r["seconds"] for r in runs), 3),
                "diagnostics": [f'{d["range"]["start"]["line"] + 1}:{d["range"]["start"]["character"] + 1} {d["message"]}'
                                for d in last["diagnostics"]],
            }
            if case == "typos":
                entry["flagged"] = flagged(last["diagnostics"])
                entry["hover_units"] = last.get("hover", "")
                entry["completion_activation"] = last.get("completion", {}).get("activation")
                entry["completion_count"] = len(last.get("completion", {}))
            report[f"{label}/{case}"] = entry
    if options.json:
        print(json.dumps(report, indent=1))
        return 0
    for key, entry in report.items():
        print(f"{key}: first diagnostics after {entry['median']:.3f} s (median of {entry['seconds']}), "
              f"schema {entry['schema_bytes']:,} bytes")
        for line in entry["diagnostics"]:
            print(f"    {line}")
        for typo, message in entry.get("flagged", {}).items():
            print(f"    {typo!r}: {'flagged: ' + message if message else 'NOT flagged'}")
        if "hover_units" in entry:
            hover = " ".join(entry["hover_units"].split())
            print(f"    hover over `units`: {hover[:300] or '(nothing)'}")
        if "completion_activation" in entry:
            offered = entry["completion_activation"]
            doc = " ".join((offered or "").split())[:200]
            print(f"    completion in a Dense entry: {entry['completion_count']} items; `activation` "
                  + (f"offered: {doc or '(no documentation)'}" if offered is not None else "NOT offered"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
