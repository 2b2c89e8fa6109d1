"""A spec as plain data -> canonical YAML text (``kerasspec.dump``).

A small emitter of our own rather than PyYAML's: PyYAML writes YAML 1.1 (it leaves
`1e-3` unquoted as a string, which a YAML 1.2 reader takes for a number), and it cannot
choose flow or block style per value. The rules here:

- top-level keys in the order of spec-format section 1; other mappings keep their order;
- sections, models, blocks and `layers` lists are block style, so each layer is one line;
  any other collection is flow style (`{type: Dense, units: 10}`) when its line fits in
  ``WIDTH`` characters, else block style;
- a string is plain only when YAML 1.2 core, YAML 1.1 (PyYAML) and flow context would all
  read it back as that same string; otherwise it is double-quoted, JSON-style escapes;
- floats are written from ``repr`` (exact round trip), with a `.0` mantissa in exponent
  forms (`1.0e-05`) so YAML 1.1 readers see a float too.

``load_text(dump(spec))`` gives back exactly ``spec`` (lists for tuples).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import yaml

from kerasspec.loader import _resolve_plain

WIDTH = 100
INDENT = "  "
TOP_LEVEL_ORDER = ("kerasspec", "name", "description", "seed", "vars", "imports", "blocks", "model", "compile", "data",
                   "fit", "evaluate", "distribute", "weights")
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
_FLOW_BREAKERS = set("[]{},:#")
_YAML11 = yaml.resolver.Resolver()


def dump(spec: dict[str, Any]) -> str:
    """Canonical YAML for a spec (no `$schema` comment line: the caller may add one)."""
    if not isinstance(spec, dict):
        raise TypeError(f"dump() takes a spec mapping, got {type(spec).__name__}")
    order = {key: index for index, key in enumerate(TOP_LEVEL_ORDER)}
    keys = sorted(spec, key=lambda k: (order.get(k, len(order)), list(spec).index(k)))
    lines: list[str] = []
    for key in keys:
        _entry(lines, "", key, spec[key], "")
    return "\n".join(lines) + "\n"


# -- block style -----------------------------------------------------------------------------
def _wants_block(key: Any, value: Any, parent: str | None) -> bool:
    """Sections, models, block definitions and `layers` lists are block style whatever their size."""
    if not isinstance(value, (dict, list)) or not value:
        return False
    if parent == "" and key != "vars" and isinstance(value, dict):
        return True
    return parent == "blocks" or key == "layers" or (key in ("model", "blocks") and isinstance(value, dict))


def _entry(lines: list[str], indent: str, key: Any, value: Any, parent: str | None) -> None:
    """``key: value`` at ``indent``; ``parent`` is the key holding this mapping ("" at the top)."""
    head = f"{indent}{_key(key)}:"
    if not _is_collection(value) or not value or (not _wants_block(key, value, parent) and _fits(head, value)):
        lines.append(f"{head} {_flow(value)}")
        return
    lines.append(head)
    if isinstance(value, dict):
        for child_key, child in value.items():
            _entry(lines, indent + INDENT, child_key, child, str(key))
    else:
        _sequence(lines, indent + INDENT, list(value), str(key))


def _sequence(lines: list[str], indent: str, value: list[Any], parent: str) -> None:
    for item in value:
        head = f"{indent}-"
        block = isinstance(item, dict) and "model" in item and parent == "layers"
        if not _is_collection(item) or not item or (not block and _fits(head, item)):
            lines.append(f"{head} {_flow(item)}")
            continue
        inner: list[str] = []
        if isinstance(item, dict):
            for child_key, child in item.items():
                _entry(inner, indent + INDENT, child_key, child, parent)
        else:
            _sequence(inner, indent + INDENT, list(item), "")
        lines.append(f"{head} {inner[0].lstrip()}")
        lines.extend(inner[1:])


def _fits(head: str, value: Any) -> bool:
    return len(head) + 1 + len(_flow(value)) <= WIDTH


def _is_collection(value: Any) -> bool:
    return isinstance(value, (dict, list, tuple))


# -- flow style and scalars --------------------------------------------------------------------
def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"mapping keys in a spec are strings, got {key!r}")
    return _string(key)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value)
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


_PLAIN_SAFE = re.compile(r"^[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]+(?: [^\s\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]+)*$")


def _string(value: str) -> str:
    return value if _plain_ok(value) else _quoted(value)


def _plain_ok(value: str) -> bool:
    """Whether ``value`` reads back as this string, plain, in block and flow context, in YAML 1.2 and 1.1."""
    if not value or not _PLAIN_SAFE.match(value) or value[0] in _INDICATORS:
        return False
    if any(c in _FLOW_BREAKERS for c in value):
        return False
    if _resolve_plain(value) != value or not isinstance(_resolve_plain(value), str):
        return False
    return _YAML11.resolve(yaml.ScalarNode, value, (True, False)) == "tag:yaml.org,2002:str"


def _quoted(value: str) -> str:
    text = json.dumps(value, ensure_ascii=False)
    # JSON leaves these raw; YAML wants printable characters only inside quotes.
    return re.sub(r"[\x7f-\x9f\u2028\u2029\ufeff]", lambda m: f"\\u{ord(m.group()):04x}", text)


__all__ = ["TOP_LEVEL_ORDER", "WIDTH", "dump"]
