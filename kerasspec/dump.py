"""A spec as plain data -> canonical YAML text (``kerasspec.dump``).

The canonical layout is the one of the examples in ``specs/``; ``dump``, ``kerasspec fmt``
and ``kerasspec export`` all write it. A small emitter of our own rather than PyYAML's:
PyYAML writes YAML 1.1 (it leaves `1e-3` unquoted as a string, which a YAML 1.2 reader
takes for a number), and it cannot choose flow or block style per value. The rules:

- top-level keys in the order of docs/spec-format.md#top-level; other mappings keep their order;
- the header keys (``HEADER``: `kerasspec`, `name`, `description`, `seed`, `vars`,
  `imports`) are one group; every other top-level key starts a section, after one blank
  line;
- sections, models (`model:`) and block definitions are block mappings;
- `layers` (anywhere: a model's, a block's, a repeat group's) and `callbacks` are block
  lists with one flow mapping a line (``- {type: Dense, units: 10}``); an item goes to
  block style when its line would pass ``ITEM_WIDTH`` characters, and a repeat group or a
  nested model (an item holding `layers` or `model`) is always a block mapping;
- any other collection is flow style when its line fits in ``WIDTH`` characters, else
  block style; a mapping holding a mapping of two or more entries (`split: {test: {...},
  validation: {...}}`) is block style whatever its width;
- a string is plain unless it needs quotes: when our YAML 1.2 core resolver (or a YAML 1.1
  reader such as PyYAML) would read it as another type (`1e-3`, `true`, `null`, `042`,
  `yes`), or it is not a valid plain scalar where it stands (a leading indicator as in
  `-a` or `#x`, `: ` or ` #` inside, surrounding spaces; `,[]:` inside a flow
  collection). A string with a brace is always quoted, so a substitution reads
  ``"${width}"`` in flow and block style alike. Quotes are double, JSON-style escapes;
- floats are written from ``repr`` (exact round trip), with a `.0` mantissa in exponent
  forms (`1.0e-05`) so YAML 1.1 readers see a float too.

``block_paths`` (spec paths, as the loader's source map names them) forces those
collections to block style: ``kerasspec fmt`` uses it so a comment on a line inside a
collection keeps its line. ``load_text(dump(spec))`` gives back exactly ``spec`` (lists
for tuples).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection
from typing import Any

import yaml

from kerasspec.loader import _resolve_plain, join_path

WIDTH = 100
ITEM_WIDTH = 120
INDENT = "  "
TOP_LEVEL_ORDER = ("kerasspec", "name", "description", "seed", "vars", "imports", "blocks", "model", "compile", "data",
                   "fit", "evaluate", "distribute", "weights", "search")
HEADER = frozenset(TOP_LEVEL_ORDER[:6])
ROW_LISTS = ("layers", "callbacks")  # block lists, one flow mapping a line
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
_FLOW_INDICATORS = set(",[]{}:")
_YAML11 = yaml.resolver.Resolver()
# One line of printable characters, no leading, trailing or double spaces, no other white space.
_NOT_PLAIN = r"\s\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff"
_PLAIN_SAFE = re.compile(f"[^{_NOT_PLAIN}]+(?: [^{_NOT_PLAIN}]+)*")
# YAML reads only printable characters, even between quotes: the rest are escaped.
_UNPRINTABLE = re.compile(r"[^\x09\x0a\x0d\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]")


def dump(spec: dict[str, Any], *, block_paths: Collection[str] = ()) -> str:
    """Canonical YAML for a spec (no `$schema` comment line: the caller may add one)."""
    if not isinstance(spec, dict):
        raise TypeError(f"dump() takes a spec mapping, got {type(spec).__name__}")
    if not spec:
        return "{}\n"
    order = {key: index for index, key in enumerate(TOP_LEVEL_ORDER)}
    keys = sorted(spec, key=lambda k: (order.get(k, len(order)), list(spec).index(k)))
    emitter = _Emitter(frozenset(block_paths))
    for index, key in enumerate(keys):
        if index and key not in HEADER:
            emitter.lines.append("")
        emitter.entry("", key, spec[key], "", role="section" if key not in HEADER else None)
    return "\n".join(emitter.lines) + "\n"


# -- block style -----------------------------------------------------------------------------
class _Emitter:
    def __init__(self, block_paths: frozenset[str]) -> None:
        self.block_paths = block_paths
        self.lines: list[str] = []

    def entry(self, indent: str, key: Any, value: Any, parent: str, role: str | None = None) -> None:
        """``key: value`` at ``indent``, in the mapping at spec path ``parent``."""
        path = join_path(parent, _checked_key(key))
        head = f"{indent}{_key(key, flow=False)}:"
        if not self.block(head, key, value, path, role):
            self.lines.append(f"{head} {_inline(value)}")
            return
        self.lines.append(head)
        self.body(indent + INDENT, key, value, path, role)

    def body(self, indent: str, key: Any, value: Any, path: str, role: str | None) -> None:
        """The lines of a block collection, at ``indent``."""
        if isinstance(value, dict):
            child_role = "block" if role == "section" and key == "blocks" else None
            for child_key, child in value.items():
                self.entry(indent, child_key, child, path, child_role)
        else:
            rows = key in ROW_LISTS
            for index, item in enumerate(value):
                self.item(indent, item, join_path(path, index), "row" if rows else None)

    def item(self, indent: str, value: Any, path: str, role: str | None) -> None:
        """``- value`` at ``indent``; a block mapping item starts on the dash's line."""
        head = f"{indent}-"
        if not self.block(head, None, value, path, role):
            self.lines.append(f"{head} {_inline(value)}")
            return
        start = len(self.lines)
        self.body(indent + INDENT, None, value, path, None)
        self.lines[start] = f"{head} {self.lines[start].lstrip()}"

    def block(self, head: str, key: Any, value: Any, path: str, role: str | None) -> bool:
        """Whether a value is written in block style (see the module's rules)."""
        if not isinstance(value, (dict, list, tuple)) or not value:
            return False
        if path in self.block_paths:
            return True
        if isinstance(value, dict):
            if role in ("section", "block") or key == "model":
                return True
            if role == "row":
                nested = isinstance(value.get("layers"), (list, tuple)) or isinstance(value.get("model"), dict)
                return nested or not _fits(head, value, ITEM_WIDTH)
            if any(isinstance(child, dict) and len(child) > 1 for child in value.values()):
                return True
        elif key in ROW_LISTS:
            return True
        return not _fits(head, value, WIDTH)


def _fits(head: str, value: Any, width: int) -> bool:
    return len(head) + 1 + len(_inline(value)) <= width


# -- flow style and scalars --------------------------------------------------------------------
def _inline(value: Any) -> str:
    """A value on the rest of a block line: a flow collection or a scalar in block context."""
    return _flow(value) if isinstance(value, (dict, list, tuple)) else _scalar(value, flow=False)


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k, flow=True)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value, flow=True)


def _checked_key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"mapping keys in a spec are strings, got {key!r}")
    return key


def _key(key: Any, *, flow: bool) -> str:
    return _string(_checked_key(key), flow=flow)


def _scalar(value: Any, *, flow: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value, flow=flow)
    raise TypeError(f"a spec holds plain data (strings, numbers, booleans, null, lists, mappings), got {type(value).__name__}: {value!r}")


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(float(value))
    mantissa, _, exponent = text.partition("e")
    if exponent:
        if "." not in mantissa:
            mantissa += ".0"
        sign = exponent[0] if exponent[0] in "+-" else "+"
        text = f"{mantissa}e{sign}{exponent.lstrip('+-')}"
    return text


def _string(value: str, *, flow: bool) -> str:
    return value if plain_ok(value, flow=flow) else _quoted(value)


def plain_ok(value: str, *, flow: bool = False) -> bool:
    """Whether ``value`` may be written unquoted: it reads back as this same string, in YAML 1.2 and 1.1.

    ``flow``: inside a flow collection, where `,[]{}:` are syntax too.
    """
    if not _PLAIN_SAFE.fullmatch(value) or value[0] in _INDICATORS or value.startswith("..."):
        return False
    if ": " in value or " #" in value or value.endswith(":") or "{" in value or "}" in value:
        return False
    if flow and any(c in _FLOW_INDICATORS for c in value):
        return False
    if not isinstance(_resolve_plain(value), str):
        return False
    return _YAML11.resolve(yaml.ScalarNode, value, (True, False)) == "tag:yaml.org,2002:str"


def _quoted(value: str) -> str:
    text = json.dumps(value, ensure_ascii=False)
    # JSON leaves these raw; YAML wants printable characters only, and no line breaks, inside quotes.
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


__all__ = ["HEADER", "ITEM_WIDTH", "TOP_LEVEL_ORDER", "WIDTH", "dump", "plain_ok"]
