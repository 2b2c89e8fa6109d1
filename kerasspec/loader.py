"""YAML text -> plain data + a source map (spec path -> file:line:col of key and value).

Loading is safe: libyaml's parser composes nodes, and we construct values ourselves with
YAML 1.2 core resolution (``1e-3`` is a float, ``yes`` a string, ``042`` is 42), refusing
duplicate keys and every tag outside the core schema. Aliases are followed with a node
budget, so "billion laughs" documents stop early with a diagnostic. Two traps get a finding
that says the fix: a Python tuple (`(3, 3)`, which YAML reads as text, or splits at its
commas in a flow collection) and a tab in the indentation.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kerasspec.errors import Diagnostic, KerasspecError, Position, SpecInvalid

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DEFAULT_MAX_BYTES = 2_000_000
DEFAULT_MAX_NODES = 200_000
DEFAULT_MAX_DEPTH = 64
# Integers have at most this many digits: the fewest Python always prints (sys.set_int_max_str_digits
# cannot go lower), so no message or check ever fails on one; no Keras argument needs more than 20.
MAX_INT_DIGITS = 640
_INT_LIMIT = 10**MAX_INT_DIGITS

_PLAIN = "tag:kerasspec:plain"  # marks a plain scalar whose type we resolve ourselves
_CORE = "tag:yaml.org,2002:"
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
_IDENT_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class _SpecLoader(_Loader):  # type: ignore[misc, valid-type]
    """libyaml's parser; resolution of plain scalars is left to ``_resolve_plain``."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        if kind is yaml.ScalarNode:
            return _CORE + "str"
        return _CORE + ("seq" if kind is yaml.SequenceNode else "map")


# First characters of every plain scalar that is not a string (null, bools, numbers, .inf, .nan).
_NON_STRING_STARTS = frozenset("~nNtTfF0123456789+-.")


class _TooLarge(ValueError):
    """An integer of more than MAX_INT_DIGITS digits."""


def _resolve_plain(text: str) -> Any:
    """YAML 1.2 core schema resolution of a plain scalar; raises _TooLarge for a huge integer."""
    if text[:1] not in _NON_STRING_STARTS and text:  # most scalars are names: no pattern can match them
        return text
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT10.match(text):
        if len(text.lstrip("+-0")) > MAX_INT_DIGITS:  # int() itself refuses over 4300 digits
            raise _TooLarge(text)
        return int(text)
    if _INT8.match(text) or _INT16.match(text):
        value = int(text[2:], 8 if text[1] == "o" else 16)
        if value >= _INT_LIMIT:
            raise _TooLarge(text)
        return value
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.match(text):
        return math.nan
    return text


def join_path(parent: str, key: str | int) -> str:
    """The spec path of a child: ``model.layers[2].units``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    part = key if _IDENT_KEY.match(key) else f"[{key!r}]"
    if part.startswith("["):
        return f"{parent}{part}"
    return f"{parent}.{part}" if parent else part


@dataclass
class SourceMap:
    """Spec path -> (position of the key, position of the value)."""

    file: str
    entries: dict[str, tuple[Position, Position]] = field(default_factory=dict)

    def locate(self, path: str, *, key: bool = False) -> Position | None:
        """The position of ``path``, or of its nearest ancestor that has one."""
        probe = path
        while True:
            if probe in self.entries:
                key_pos, value_pos = self.entries[probe]
                return key_pos if key else value_pos
            if not probe:
                return None
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""

    def add_positions(self, diagnostics: list[Diagnostic], *, key_codes: frozenset[str] = frozenset()) -> None:
        """Fill in missing positions from spec paths (key position for ``key_codes``)."""
        for diag in diagnostics:
            if diag.position is None:
                diag.position = self.locate(diag.path, key=diag.code in key_codes)


@dataclass
class LoadedSpec:
    """A spec as loaded: plain data, where each value came from, and its folder."""

    data: Any
    source_map: SourceMap
    path: Path | None = None

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    @property
    def file(self) -> str:
        return self.source_map.file


class _Builder:
    """Turns composed nodes into plain data, recording positions and findings."""

    def __init__(self, file: str, max_nodes: int, max_depth: int, text: str = "") -> None:
        self.source_map = SourceMap(file)
        self.diagnostics: list[Diagnostic] = []
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.nodes = 0
        self.text = text
        self._line_starts: list[int] | None = None  # computed on the first `(`: most specs have none
        self._tuples: dict[int, tuple[list[Any], str, str, int] | None] = {}  # node id -> python_tuple's answer

    def pos(self, mark: yaml.Mark) -> Position:
        return Position(self.source_map.file, mark.line + 1, mark.column + 1)

    def fail(self, code: str, message: str, path: str, mark: yaml.Mark, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, path=path, position=self.pos(mark), hint=hint))

    def build(self, node: yaml.Node, path: str, key_mark: yaml.Mark, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > self.max_nodes or depth > self.max_depth:
            what = f"more than {self.max_nodes} nodes" if self.nodes > self.max_nodes else f"nesting deeper than {self.max_depth}"
            raise KerasspecError(
                f"the document has {what} (aliases count each time they are used)",
                code="KS006", path=path, position=self.pos(node.start_mark),
                hint="split the spec, or use repeat groups and blocks instead of YAML aliases",
            )
        if path not in self.source_map.entries:
            self.source_map.entries[path] = (self.pos(key_mark), self.pos(node.start_mark))
        tag = node.tag
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if tag not in (_CORE + "seq", _CORE + "map"):
            self.fail("KS004", f"tag {tag!r} is not allowed", path, node.start_mark, "remove the tag: a spec is plain data")
            return None  # the value is dropped, and findings under it are not reported
        swallowed = -1  # a Python tuple in a flow collection: YAML split it at its commas; its pieces end here
        if isinstance(node, yaml.SequenceNode):
            items = []
            for item in node.value:
                if swallowed >= 0 and self.index(item.start_mark) < swallowed:
                    continue
                swallowed = max(swallowed, self.tuple_end(item))
                items.append(self.build(item, join_path(path, len(items)), item.start_mark, depth + 1))
            return items
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if swallowed >= 0 and self.index(key_node.start_mark) < swallowed:
                continue  # `3)` of `{kernel_size: (3, 3)}`: a key YAML made of the tuple's last piece
            swallowed = max(swallowed, self.tuple_end(value_node))
            key = self.key(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, (str, int, float, bool)) or key is None:
                self.fail("KS103", "mapping keys must be plain strings", path, key_node.start_mark)
                continue
            key = str(key) if not isinstance(key, str) else key
            child = join_path(path, key)
            if key in result:
                first = self.source_map.entries.get(child, (None, None))[0]
                self.fail("KS003", f"duplicate key {key!r} (first at line {first.line if first else '?'})",
                          child, key_node.start_mark, "remove one of them: YAML would silently keep the last")
                continue
            result[key] = self.build(value_node, child, key_node.start_mark, depth + 1)
        return result

    def key(self, node: yaml.ScalarNode, path: str) -> Any:
        """A mapping key: as a scalar, but a huge integer key stays its text (keys become strings)."""
        try:
            return self.scalar(node, path, report=False)
        except _TooLarge:
            return node.value

    def scalar(self, node: yaml.ScalarNode, path: str, *, report: bool = True) -> Any:
        try:
            return self._scalar(node, path, is_value=report)
        except _TooLarge:
            if not report:
                raise
            shown = node.value if len(node.value) <= 30 else f"{node.value[:12]}...{node.value[-12:]}"
            self.fail("KS006", f"the integer {shown} ({len(node.value)} characters) is longer than {MAX_INT_DIGITS} digits",
                      path, node.start_mark, "no argument needs such a number")
            return None  # the value is dropped, and findings under it are not reported

    def _scalar(self, node: yaml.ScalarNode, path: str, *, is_value: bool = True) -> Any:
        tag, text = node.tag, node.value
        if tag == _PLAIN:
            if text.startswith("(") and is_value:  # a key `(3, 3)` is text: keys are names
                found = self.python_tuple(node)
                if found is not None:
                    value, written, as_list, _ = found
                    self.fail("KS103", f"{NO_TUPLES}: write {_short_text(as_list)} instead of {_short_text(written)}",
                              path, node.start_mark)
                    return value  # what the tuple meant, so later checks judge the list the fix gives
            return _resolve_plain(text)
        core = tag[len(_CORE):] if tag.startswith(_CORE) else None
        if core == "str":
            return text
        if core in ("int", "float", "bool", "null"):
            value = _resolve_plain(text)
            expected = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[core]
            if isinstance(value, expected) and not (core != "bool" and isinstance(value, bool)):
                try:
                    return float(value) if core == "float" else value
                except OverflowError:  # an integer past the largest float
                    pass
            self.fail("KS103", f"{text[:60]!r} is not a valid !!{core}", path, node.start_mark)
            return text
        self.fail("KS004", f"tag {tag!r} is not allowed", path, node.start_mark,
                  "remove the tag: specs never construct Python objects")
        return None

    # -- Python tuples: YAML has none ------------------------------------------------------------
    def index(self, mark: yaml.Mark) -> int:
        """The offset of ``mark`` in the text, from its line and column (libyaml counts characters there)."""
        if self._line_starts is None:
            starts = [0]
            starts.extend(i + 1 for i, c in enumerate(self.text) if c == "\n")
            self._line_starts = starts
        return self._line_starts[mark.line] + mark.column if mark.line < len(self._line_starts) else len(self.text)

    def python_tuple(self, node: yaml.Node) -> tuple[list[Any], str, str, int] | None:
        """(value, source text, YAML list, end offset) of a Python tuple where plain scalar ``node`` starts, or None.

        In a flow collection YAML splits `(3, 3)` into the pieces `(3` and `3)`; in block context it is
        the string "(3, 3)". Both are tuples here. In block context only a tuple of numbers, nulls and
        booleans counts, so a text such as `(a, b)` or `(draft) model` stays a string.
        """
        if not (isinstance(node, yaml.ScalarNode) and node.tag == _PLAIN and node.value.startswith("(")):
            return None
        if id(node) in self._tuples:
            return self._tuples[id(node)]
        found = None
        if len(self._tuples) < _MAX_TUPLE_TRIES:  # each try reads at most _MAX_TUPLE_TEXT characters
            start = self.index(node.start_mark)
            try:
                value, as_list, length, has_comma = _parse_tuple(self.text[start:start + _MAX_TUPLE_TEXT], 0)
                end = start + length
            except (ValueError, IndexError, _TooLarge):
                has_comma = False
            if has_comma:
                in_flow = self.index(node.end_mark) < end  # the scalar stopped at a comma inside the tuple
                if in_flow or (self.index(node.end_mark) <= end and not _has_text(value)):
                    found = value, self.text[start:end], as_list, end
        self._tuples[id(node)] = found
        return found

    def tuple_end(self, node: yaml.Node) -> int:
        """Where a tuple that starts at ``node`` ends in the text (-1 if none starts there)."""
        found = self.python_tuple(node)
        return found[3] if found is not None else -1


NO_TUPLES = "YAML has no tuples"  # how the finding for a Python tuple starts (validate drops its follow-ons)
_MAX_TUPLE_TEXT = 200  # characters a written tuple may span; no argument needs more
_MAX_TUPLE_DEPTH = 4  # tuples in tuples: ZeroPadding3D's padding has two levels
_MAX_TUPLE_TRIES = 1000  # scalars starting with `(` looked at per document (a hostile one may hold many)
_PY_CONSTANTS = {"None": "null", "True": "true", "False": "false"}


def _parse_tuple(text: str, i: int, depth: int = 0) -> tuple[list[Any], str, int, bool]:
    """A Python tuple at ``text[i]`` == "(": (its value as lists, as YAML flow text, its end, whether it has a comma).

    Raises ValueError (or IndexError at the end of ``text``) when the text there is no tuple of plain
    values: brackets, braces, a comment, a missing parenthesis.
    """
    if text[i] != "(" or depth > _MAX_TUPLE_DEPTH:
        raise ValueError("no tuple")
    i += 1
    values: list[Any] = []
    written: list[str] = []
    has_comma = False
    while True:
        while text[i] in " \t\n":
            i += 1
        if text[i] == ")" and (has_comma or not values):
            return values, "[" + ", ".join(written) + "]", i + 1, has_comma
        if text[i] == "(":
            value, fixed, i, _ = _parse_tuple(text, i, depth + 1)
        elif text[i] in "'\"":
            close = text.index(text[i], i + 1)
            value, fixed, i = text[i + 1:close], text[i:close + 1], close + 1
        else:
            start = i
            while text[i] not in "(),[]{}'\"\n#":
                i += 1
            raw = text[start:i].strip()
            if not raw:
                raise ValueError("an empty item")
            fixed = _PY_CONSTANTS.get(raw, raw)
            value = _resolve_plain(fixed)
        values.append(value)
        written.append(fixed)
        while text[i] in " \t\n":
            i += 1
        if text[i] == ",":
            has_comma, i = True, i + 1
        elif text[i] == ")":
            return values, "[" + ", ".join(written) + "]", i + 1, has_comma
        else:
            raise ValueError("not a tuple")


def _has_text(value: Any) -> bool:
    """Whether a parsed tuple holds a string anywhere (then, in block context, it may be prose)."""
    return isinstance(value, str) or (isinstance(value, list) and any(_has_text(v) for v in value))


def _short_text(text: str, limit: int = 60) -> str:
    """Source text on one line, cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _expanded_size(node: yaml.Node, memo: dict[int, float], depth: int, max_depth: int) -> float:
    """How many nodes the document has once aliases are expanded, without expanding them.

    A scalar counts one node per ``_CHARS_PER_NODE`` characters too: a 1 MB string aliased 20,000
    times is 20 GB of text for every pass that reads it, however few nodes it is.
    """
    if id(node) in memo:
        return memo[id(node)]
    if depth > max_depth:
        return 1  # the builder reports the depth, at the right place
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(item, memo, depth + 1, max_depth) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(v, memo, depth + 1, max_depth) for _, v in node.value)
    else:
        size = 1 + len(node.value) // _CHARS_PER_NODE if isinstance(node.value, str) else 1
    memo[id(node)] = size
    return size


_CHARS_PER_NODE = 100


def _tab_at_fault(text: str, mark: yaml.Mark | None) -> tuple[int, int, bool] | None:
    """(line, column, whether in the indentation) of the tab a YAML syntax error comes from, or None.

    The tab is the character at the error, or one in the leading whitespace of the error's line.
    """
    if mark is None:
        return None
    lines = text.split("\n", mark.line + 1)
    if mark.line >= len(lines):
        return None
    line = lines[mark.line]
    leading = len(line) - len(line.lstrip(" \t"))
    if mark.column < len(line) and line[mark.column] == "\t":
        column = mark.column
    elif "\t" in line[:leading]:
        column = line.index("\t")
    else:
        return None
    # `- ` and `? ` before a tab still indent what follows them
    indenting = not line[:column].replace("-", " ").replace("?", " ").strip()
    return mark.line + 1, column + 1, indenting


def load_text(
    text: str,
    file: str = "<string>",
    *,
    max_nodes: int = DEFAULT_MAX_NODES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> tuple[LoadedSpec, list[Diagnostic]]:
    """Parse YAML text. Returns the loaded spec and the loading findings (not raised)."""
    builder = _Builder(file, max_nodes, max_depth, text)
    try:
        loader = _SpecLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file, 1, 1)
        context = exc.context or ""
        if exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
            context += f" (started at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
        message = ": ".join(str(part) for part in (context, exc.problem) if part)
        if "expected a single document" in message:
            message = "a spec file holds exactly one YAML document"
        tab = _tab_at_fault(text, exc.problem_mark)
        if tab is not None:  # libyaml's words ("found character that cannot start any token") never say "tab"
            line, col, indenting = tab
            where = f"in the indentation at line {line}" if indenting else f"at line {line}, column {col}"
            return LoadedSpec(None, builder.source_map), [Diagnostic(
                "KS002", f"a tab {where}: YAML indents with spaces only", position=Position(file, line, col),
                hint="replace the tab with spaces")]
        return LoadedSpec(None, builder.source_map), [Diagnostic("KS002", message, position=position)]
    except yaml.YAMLError as exc:
        return LoadedSpec(None, builder.source_map), [Diagnostic("KS002", str(exc), position=Position(file, 1, 1))]
    if node is None:
        diag = Diagnostic("KS005", "the file is empty; a spec is a mapping with at least `kerasspec: 1`, `name` and `model`",
                          position=Position(file, 1, 1))
        return LoadedSpec(None, builder.source_map), [diag]
    size = _expanded_size(node, {}, 0, max_depth)
    if size > max_nodes:
        diag = Diagnostic("KS006", f"the document expands to more than {max_nodes} nodes (aliases count each time they are used, "
                          f"a long string one node per {_CHARS_PER_NODE} characters)",
                          position=Position(file, node.start_mark.line + 1, node.start_mark.column + 1),
                          hint="split the spec, or use repeat groups and blocks instead of YAML aliases")
        return LoadedSpec(None, builder.source_map), [diag]
    try:
        data = builder.build(node, "", node.start_mark)
    except KerasspecError as exc:
        return LoadedSpec(None, builder.source_map), builder.diagnostics + exc.diagnostics
    if not isinstance(data, dict):
        builder.fail("KS005", f"a spec is a mapping of keys, not a {type(data).__name__}", "", node.start_mark)
    return LoadedSpec(data, builder.source_map), builder.diagnostics


def load_file(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, display: str | None = None) -> tuple[LoadedSpec, list[Diagnostic]]:
    """Read and parse a spec file; the findings are returned, not raised (reading: ``read_spec_bytes``)."""
    path = Path(path)
    name = display or str(path)
    data, problem = read_spec_bytes(path, max_bytes=max_bytes, display=name)
    try:
        if problem is not None:
            return LoadedSpec(None, SourceMap(name), path), [problem]
        text = (data or b"").decode("utf-8")
        if "\r" in text:  # newlines as read_text reads them
            text = text.replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        return LoadedSpec(None, SourceMap(name), path), [Diagnostic("KS001", f"cannot read the file: {exc}", position=Position(name, 1, 1))]
    loaded, diagnostics = load_text(text, name)
    loaded.path = path
    return loaded, diagnostics


def read_spec_bytes(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, display: str | None = None
                    ) -> tuple[bytes | None, Diagnostic | None]:
    """A spec file's bytes, or why not (KS001, KS006). Only a regular file is read (a FIFO, a device
    such as /dev/zero, a directory are refused; opening does not wait for a FIFO's writer), and at
    most ``max_bytes`` + 1 bytes of it, whatever its size claims."""
    name = display or str(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0))
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
                return None, Diagnostic("KS001", f"cannot read the file: it is {what}", position=Position(name, 1, 1),
                                        hint="a spec is a regular YAML file")
            data = _read_at_most(descriptor, max_bytes + 1, info.st_size) if info.st_size <= max_bytes else b""
        finally:
            os.close(descriptor)
    except OSError as exc:
        return None, Diagnostic("KS001", f"cannot read the file: {exc}", position=Position(name, 1, 1))
    if info.st_size > max_bytes or len(data) > max_bytes:
        size = f"{info.st_size} bytes" if info.st_size > max_bytes else f"over {max_bytes} bytes"
        return None, Diagnostic("KS006", f"the file is {size}, over the {max_bytes}-byte limit", position=Position(name, 1, 1),
                                hint="pass a larger --max-bytes if the spec is trusted")
    return data, None


def _read_at_most(descriptor: int, limit: int, size_hint: int) -> bytes:
    """Up to ``limit`` bytes, whatever the file's size claims (a /proc file says 0)."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(descriptor, min(left, size_hint + 1 if size_hint else 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def load(path: str | Path) -> LoadedSpec:
    """Load a spec file, raising ``SpecInvalid`` on any loading finding."""
    loaded, diagnostics = load_file(path)
    if diagnostics:
        raise SpecInvalid(diagnostics[0].message, diagnostics=diagnostics)
    return loaded
