"""`kerasspec fmt`: a spec rewritten in the canonical layout (the exporter's), comments kept.

The data is dumped by ``dump``, so the meaning cannot change: ``load(fmt(text)) ==
load(text)``, and formatting twice changes nothing. Comments are carried over by spec
path: a comment line stays above the node that follows it, and a comment at the end of
a line stays on the line of the node it followed. Both positions come from our own
loader's source map, of the original text and of the formatted one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kerasspec.dump import dump
from kerasspec.errors import Diagnostic, has_errors
from kerasspec.loader import SourceMap, load_text

_BLOCK_SCALAR = re.compile(r"[|>][-+0-9]*\s*(#.*)?$")


@dataclass
class Comment:
    line: int  # 1-based line in the original text
    text: str  # from `#` on
    inline: bool


def find_comments(text: str) -> list[Comment]:
    """Comments of a YAML text: `#` at a line start or after white space, outside quotes and block scalars."""
    comments: list[Comment] = []
    scalar_indent: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        indent = len(line) - len(line.lstrip())
        if scalar_indent is not None:
            if not line.strip() or indent > scalar_indent:
                continue  # the content of a `|` or `>` block scalar
            scalar_indent = None
        position = _comment_start(line)
        if position is not None:
            comments.append(Comment(number, line[position:].rstrip(), inline=bool(line[:position].strip())))
        code = line[:position] if position is not None else line
        if _BLOCK_SCALAR.search(code.rstrip()) and code.rstrip()[-1:] in "|>-+0123456789":
            scalar_indent = indent
    return comments


def _comment_start(line: str) -> int | None:
    quote: str | None = None
    for index, char in enumerate(line):
        if quote:
            if char == quote and not (quote == '"' and line[index - 1] == "\\"):
                quote = None
        elif char in "'\"" and (index == 0 or line[index - 1] in " \t[{,:-"):
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return index
    return None


def _anchor(source_map: SourceMap, comment: Comment) -> str | None:
    """The spec path a comment belongs to: the node after a comment line, or the node on the comment's line."""
    candidates = []
    for path, (key, _) in source_map.entries.items():
        if not path:
            continue
        if (comment.inline and key.line == comment.line) or (not comment.inline and key.line > comment.line):
            candidates.append((key.line, key.col, len(path), path))
    return min(candidates)[3] if candidates else None


def format_text(text: str, file: str = "<string>") -> tuple[str, list[Diagnostic]]:
    """The canonical text, or the original with the loading findings when it cannot be read."""
    loaded, found = load_text(text, file)
    if has_errors(found) or not isinstance(loaded.data, dict):
        return text, found
    canonical = dump(loaded.data)
    out_map = load_text(canonical, file)[0].source_map
    lines = canonical.splitlines()
    above: dict[int, list[str]] = {}
    after: dict[int, list[str]] = {}
    header: list[str] = []  # comments before the first node (a modeline, a licence) stay on top
    trailing: list[str] = []
    first_line = min((key.line for path, (key, _) in loaded.source_map.entries.items() if path), default=0)
    for comment in find_comments(text):
        if not comment.inline and comment.line < first_line:
            header.append(comment.text)
            continue
        path = _anchor(loaded.source_map, comment)
        if path is None or path not in out_map.entries:
            trailing.append(comment.text)
            continue
        target = out_map.entries[path][0].line - 1
        if comment.inline:
            after.setdefault(target, []).append(comment.text)
        else:
            above.setdefault(target, []).append(comment.text)
    result: list[str] = list(header)
    for index, line in enumerate(lines):
        indent = line[: len(line) - len(line.lstrip())]
        inline = after.get(index, [])
        if len(inline) > 1:  # lines joined into one flow collection: their comments go above it
            above.setdefault(index, []).extend(inline)
            inline = []
        result.extend(indent + c for c in above.get(index, []))
        result.append(line + "".join("  " + c for c in inline))
    result.extend(trailing)
    return "\n".join(result) + "\n", []
