"""`kerasspec fmt`: a spec rewritten in the canonical layout (``kerasspec.dump``'s), comments kept.

The data is dumped by ``dump``, so the meaning cannot change: ``load(fmt(text)) ==
load(text)``, and formatting twice changes nothing. Comments are carried over by spec
path, from our own loader's source map of the original text and of the formatted one:

- comments before the first key (the `$schema` modeline, a licence) stay on top, and
  comments after the last node stay at the end;
- a comment line stays above the node that follows it;
- an end-of-line comment stays at the end of the line of the node it followed. Its
  spacing is canonical: two spaces before `#`, and the comments of consecutive lines
  aligned in one column (two spaces after the longest of those lines).

A comment needs its node to start a line, so the collections holding a commented node
are written in block style (``dump``'s ``block_paths``) even where the canonical layout
would fit them on one flow line. A comment after a bare `-` belongs to the item below it.

fmt never loses or invents a comment and never changes a value. What it cannot keep, it
does not touch: a text with anchors or aliases (the layout would expand them into copies)
is left as it is, with the reason (``format_spec``), and so is any rewrite whose data or
comments would differ from the original's, which is checked every time.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

import yaml

from kerasspec.dump import dump
from kerasspec.errors import Diagnostic, has_errors
from kerasspec.loader import LoadedSpec, SourceMap, join_path, load_text

_BLOCK_SCALAR = re.compile(r"[|>][-+0-9]*\s*(#.*)?$")
_Scanner: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
COMMENT_GAP = "  "


@dataclass
class Comment:
    line: int  # 1-based line in the original text
    text: str  # from `#` on
    inline: bool
    code: str = ""  # what comes before it on its line


@dataclass
class Formatted:
    """What ``format_spec`` gives: the text to write, loading findings, and why a file is left as it was."""

    text: str
    diagnostics: list[Diagnostic]
    unchanged_because: str | None = None


def find_comments(text: str) -> list[Comment]:
    """Comments of a YAML text: a `#` at a line start or after white space, outside every scalar."""
    lines = text.splitlines()
    try:
        spans = _scalar_spans(text)
    except yaml.YAMLError:
        return _find_comments_by_hand(lines)
    starts = [start for start, _ in spans]
    comments: list[Comment] = []
    for number, line in enumerate(lines):
        for match in re.finditer("#", line):
            index = match.start()
            if index and line[index - 1] not in " \t":
                continue
            at = (number, index)
            inside = bisect.bisect_right(starts, at) - 1
            if inside >= 0 and spans[inside][0] <= at < spans[inside][1]:
                continue
            comments.append(Comment(number + 1, line[index:].rstrip(), inline=bool(line[:index].strip()), code=line[:index]))
            break
    return comments


def _scalar_spans(text: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(line, column) from and to of every scalar, 0-based, in order."""
    spans = []
    for token in yaml.scan(text, Loader=_Scanner):
        if isinstance(token, yaml.ScalarToken):
            spans.append(((token.start_mark.line, token.start_mark.column), (token.end_mark.line, token.end_mark.column)))
    return spans


def _find_comments_by_hand(lines: list[str]) -> list[Comment]:
    """For a text the YAML scanner refuses: quotes and block scalars followed by hand."""
    comments: list[Comment] = []
    scalar_indent: int | None = None
    for number, line in enumerate(lines, start=1):
        indent = len(line) - len(line.lstrip())
        if scalar_indent is not None:
            if not line.strip() or indent > scalar_indent:
                continue  # the content of a `|` or `>` block scalar
            scalar_indent = None
        position = _comment_start(line)
        if position is not None:
            comments.append(Comment(number, line[position:].rstrip(), inline=bool(line[:position].strip()), code=line[:position]))
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
        elif char in "'\"" and line[:index].rstrip()[-1:] in ("", "[", "{", ",", ":", "-", "?"):
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return index
    return None


def _anchor(source_map: SourceMap, comment: Comment) -> str | None:
    """The spec path a comment belongs to: the node after a comment line, or the first node on the comment's line.

    An end-of-line comment on a line without a node belongs to the node that follows when
    the line is a bare `-` (the item starts on the next line), else (after the `]` closing a
    flow list that spans lines) to the first node of the last line before it that has one.
    """
    after, on, before = [], [], []
    for path, (key, _) in source_map.entries.items():
        if path:
            (after if key.line > comment.line else on if key.line == comment.line else before).append((key.line, key.col, len(path), path))
    if not comment.inline:
        return min(after)[3] if after else None
    if on:
        return min(on)[3]
    if after and set(comment.code.strip()) <= {"-", " "}:  # `-   # note` above the item's value
        return min(after)[3]
    if not before:
        return None
    last = max(before)[0]
    return min(c for c in before if c[0] == last)[3]


@dataclass
class _Node:
    parent: str | None  # the spec path of the collection holding it (None for the root)
    starts_item: bool  # the first entry of a list item: in block style it shares the item's `- ` line


def _tree(data: object) -> dict[str, _Node]:
    """Every spec path of ``data`` (spelled as the loader's source map spells them), with its parent."""
    nodes = {"": _Node(None, False)}
    stack: list[tuple[str, object, bool]] = [("", data, False)]
    while stack:
        path, value, is_item = stack.pop()
        children = list(value.items()) if isinstance(value, dict) else list(enumerate(value)) if isinstance(value, list) else []
        for position, (key, child) in enumerate(children):
            child_path = join_path(path, key)
            nodes[child_path] = _Node(path, is_item and position == 0)
            stack.append((child_path, child, isinstance(key, int)))
    return nodes


def _settled(tree: dict[str, _Node], path: str) -> str:
    """``path``, or the list item it starts: a block item's first key shares the item's line (`- type: Dense`)."""
    while path in tree and tree[path].starts_item:
        path = str(tree[path].parent)
    return path


def _ancestors(tree: dict[str, _Node], path: str) -> list[str]:
    """The spec paths of the collections holding ``path`` (not the root)."""
    result = []
    parent = tree[path].parent if path in tree else None
    while parent:
        result.append(parent)
        parent = tree[parent].parent
    return result


def format_text(text: str, file: str = "<string>") -> tuple[str, list[Diagnostic]]:
    """The canonical text, or the original with the loading findings when it cannot be read.

    A text fmt cannot rewrite without losing something (see ``format_spec``) comes back as it was.
    """
    result = format_spec(text, file)
    return result.text, result.diagnostics


def format_spec(text: str, file: str = "<string>") -> Formatted:
    """``format_text`` with the reason a readable file is left unchanged, if it is.

    fmt never loses or invents a comment and never changes a value: anchors and aliases
    (which the canonical layout would expand) leave the text unchanged, and so does an
    output whose data or comments differ from the input's (a check on every rewrite).
    """
    loaded, found = load_text(text, file)
    if has_errors(found) or not isinstance(loaded.data, dict):
        return Formatted(text, found)
    anchor = _first_anchor(text)
    if anchor is not None:
        line, what = anchor
        return Formatted(text, [], f"line {line} has {what}, which the canonical layout would expand into copies; "
                                   "fmt leaves the file as it is (write the values out to format it)")
    formatted = _canonical_text(text, loaded, file)
    if formatted == text:
        return Formatted(text, [])
    problem = _difference(text, loaded.data, formatted, file)
    if problem:
        return Formatted(text, [], f"{problem}; fmt leaves the file as it is (please report this)")
    return Formatted(formatted, [])


def _first_anchor(text: str) -> tuple[int, str] | None:
    """(line, what) of the first anchor (`&a`) or alias (`*a`) in a YAML text."""
    try:
        for token in yaml.scan(text, Loader=_Scanner):
            if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
                kind = "an anchor" if isinstance(token, yaml.AnchorToken) else "an alias"
                return token.start_mark.line + 1, f"{kind} ({'&' if kind == 'an anchor' else '*'}{token.value})"
    except yaml.YAMLError:
        return None
    return None


def _difference(text: str, data: object, formatted: str, file: str) -> str | None:
    """What the rewrite would lose or change, or None: the same data, the same comments."""
    reloaded, found = load_text(formatted, file)
    if has_errors(found) or not _same_data(reloaded.data, data):
        return "the rewritten text would not read back as the same values"
    before = sorted(c.text for c in find_comments(text))
    after = sorted(c.text for c in find_comments(formatted))
    if before != after:
        lost = sorted(set(before) - set(after)) or sorted(set(after) - set(before)) or before
        return f"the rewritten text would not keep every comment as it is ({lost[0][:60]!r})"
    return None


def _same_data(a: object, b: object) -> bool:
    """Equal with the same types throughout (`1`, `1.0` and `true` are different values)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(_same_data(a[k], b[k]) for k in a)  # fmt orders the sections
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(_same_data(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b


def _canonical_text(text: str, loaded: LoadedSpec, file: str) -> str:
    """The canonical layout of a loaded mapping, its comments carried over by spec path."""
    assert isinstance(loaded.data, dict)
    entries = loaded.source_map.entries
    root_line = entries[""][1].line if "" in entries else 1
    first_line = min((key.line for path, (key, _) in entries.items() if path), default=root_line)
    header: list[str] = []  # comments before the first node (a modeline, a licence) stay on top
    trailing: list[str] = []
    anchored: list[tuple[Comment, str]] = []
    on_empty: list[str] = []  # `{}  # ...`: an empty spec keeps its end-of-line comment
    tree = _tree(loaded.data)
    for comment in find_comments(text):
        path = None if not comment.inline and comment.line < first_line else _anchor(loaded.source_map, comment)
        if path is not None:
            anchored.append((comment, _settled(tree, path)))
        elif comment.inline and not loaded.data and comment.line == root_line:
            on_empty.append(comment.text)
        else:
            (header if comment.line < first_line else trailing).append(comment.text)
    block_paths = {ancestor for _, path in anchored for ancestor in _ancestors(tree, path)}
    canonical = dump(loaded.data, block_paths=block_paths)
    out_map = load_text(canonical, file)[0].source_map
    above: dict[int, list[str]] = {}
    after: dict[int, list[str]] = {0: on_empty} if on_empty else {}
    for comment, path in anchored:
        if path not in out_map.entries:  # cannot happen for paths of the same data; kept safe
            trailing.append(comment.text)
            continue
        target = out_map.entries[path][0].line - 1
        (after if comment.inline else above).setdefault(target, []).append(comment.text)
    rows: list[tuple[str, str | None]] = [(line, None) for line in header]
    for index, line in enumerate(canonical.splitlines()):
        indent = line[: len(line) - len(line.lstrip())]
        inline = after.get(index, [])
        if len(inline) > 1:  # two commented nodes on one line (not expected): their comments go above it
            above.setdefault(index, []).extend(inline)
            inline = []
        rows.extend((indent + c, None) for c in above.get(index, []))
        rows.append((line, inline[0] if inline else None))
    rows.extend((line, None) for line in trailing)
    return "\n".join(_aligned(rows)) + "\n"


def _aligned(rows: list[tuple[str, str | None]]) -> list[str]:
    """Lines with their end-of-line comments; the comments of consecutive lines share one column."""
    result: list[str] = []
    index = 0
    while index < len(rows):
        if rows[index][1] is None:
            result.append(rows[index][0])
            index += 1
            continue
        end = index
        while end < len(rows) and rows[end][1] is not None:
            end += 1
        column = max(len(code) for code, _ in rows[index:end]) + len(COMMENT_GAP)
        result.extend(code.ljust(column) + str(comment) for code, comment in rows[index:end])
        index = end
    return result
