"""A client file as a document: bytes → UTF-8 text → YAML nodes → plain data, with the line of every key.

A client file comes from whoever can write to the config directory, and ``serve`` re-reads it on SIGHUP,
so reading it must never take the process down: whatever the bytes are, the result is a ``Located``
document or a ``ConfigError`` with ``file:line``, in bounded time and memory. The limits below are what
makes that so; each says why its number is what it is (docs/rules.md lists them for users).

The YAML is composed into PyYAML's node graph first, by a composer that counts as it goes, and turned
into Python objects only once the graph is known to be small, shallow and acyclic. An alias (``*a``) is
one node in the graph but a whole copy of its anchor once constructed, so the count is of the nodes the
data *will* have, aliases expanded: that is what stops a 4 KB "billion laughs" file.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from campaign_bridge.errors import ConfigError, Problem

#: The largest client file read, in bytes. A rule of the documented shape is about 290 bytes, so this
#: holds some 3,500 rules, far beyond real clients (tens of rules). PyYAML reads about 0.3 MB a second
#: in pure Python, which keeps even a file at the limit to a few seconds; and reading stops here, so
#: pointing the service at ``/dev/zero`` or a log file costs one megabyte, not all memory.
MAX_FILE_BYTES = 1024 * 1024

#: The most nodes (keys, values, items) the data may have once aliases are expanded. 1,000 documented
#: rules are about 31,000 nodes, so a file at ``MAX_FILE_BYTES`` written out by hand stays below this;
#: a file that needs more does so only through aliases repeating aliases (a "billion laughs"). Each node
#: costs a few hundred bytes once built, so the limit also caps the memory of a file at ~100 MB.
MAX_NODES = 200_000

#: The deepest nesting allowed, aliases expanded (the file's top mapping is depth 1). The deepest real
#: shape, ``rules › rule › from › segment › all › not › {field, in} › list``, is about 11; nested segment
#: groups add two a level. Every walk of the data (the composer, our constructor, interpolation, segment
#: parsing) recurses once or twice a level, so 50 keeps them all far below Python's recursion limit (1000).
MAX_DEPTH = 50

Path_ = tuple[str | int, ...]

# Byte-order marks of encodings that are not UTF-8; the longer UTF-32 marks first (UTF-32-LE starts with
# the UTF-16-LE mark).
_FOREIGN_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class Located:
    """A parsed YAML document and the line of every key and item in it."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    #: Values that came (in part) from ``${VAR}`` substitution, and secret fields: never echoed.
    env_refs: set[Path_] = field(default_factory=set)
    secret_paths: set[Path_] = field(default_factory=set)
    #: What each environment variable substituted into the file, and how the file wrote it (``${VAR}``).
    env_values: dict[str, str] = field(default_factory=dict)

    def line(self, path: Iterable[str | int]) -> int | None:
        """The line of ``path``, or of its nearest located ancestor."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), 1)

    def describe(self, path: Path_) -> str:
        """A readable name for a location: ``rule 'x' from.campaign`` rather than ``rules.0.from.campaign``."""
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            rules = self.data.get("rules") if isinstance(self.data, dict) else None
            raw = rules[path[1]] if isinstance(rules, list) and path[1] < len(rules) else None
            name = raw.get("name") if isinstance(raw, dict) else None
            head = f"rule {name!r}" if isinstance(name, str) else f"rule #{path[1] + 1}"
            rest = ".".join(str(p) for p in path[2:])
            return f"{head} {rest}".strip()
        return ".".join(str(p) for p in path)

    def hidden(self, path: Iterable[str | int]) -> bool:
        """Whether the value at ``path`` (or around it) came from the environment or is a secret."""
        p = tuple(path)
        return any(p[:n] in self.env_refs or p[:n] in self.secret_paths for n in range(1, len(p) + 1))

    def redact(self, message: str) -> str:
        """``message`` with every quoted value that came from the environment replaced by how the file
        wrote it (``'${VAR}'``): a validator may quote what it was given, normalised (``{v!r}``)."""
        # longest first: a whole value ("https://${HOST}/x") before the variable inside it
        for written, value in sorted(self.env_values.items(), key=lambda wv: -len(wv[1])):
            if value.strip():
                quoted = re.compile(r"(['\"])\s*" + re.escape(value.strip()) + r"\s*\1", re.IGNORECASE)
                message = quoted.sub(functools.partial(_requote, written), message)
        return message

    def problem(self, path: Iterable[str | int], message: str) -> Problem:
        return Problem(self.file, self.line(path), self.redact(message))


def _requote(written: str, match: re.Match[str]) -> str:
    """The quoted value of ``match`` replaced by ``written``, in the same quotes."""
    return f"{match.group(1)}{written}{match.group(1)}"


def read_text(path: str | Path) -> str:
    """The file's text: at most ``MAX_FILE_BYTES``, UTF-8 (a UTF-8 byte-order mark is dropped).

    Raises ``ConfigError`` (with the line, where there is one) for an unreadable, oversized or
    non-UTF-8 file, naming the encoding when a byte-order mark gives it away.
    """
    file = str(path)
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)  # never more: the file may be endless (a device, a pipe)
    except OSError as exc:
        raise ConfigError([Problem(file, None, f"cannot read the file: {exc.strerror}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        line = raw.count(b"\n", 0, MAX_FILE_BYTES) + 1
        raise ConfigError([Problem(file, line, _too_large())])
    for bom, encoding in _FOREIGN_BOMS:
        if raw.startswith(bom):
            message = f"the file is {encoding}-encoded (it starts with a {encoding} byte-order mark); save it as UTF-8"
            raise ConfigError([Problem(file, 1, message)])
    raw = raw.removeprefix(_UTF8_BOM)  # editors on Windows write one; it says "UTF-8", which we read
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start]
        message = (
            f"the file is not UTF-8: byte 0x{byte:02x} cannot be read as UTF-8 "
            "(Latin-1 or Windows-1252, perhaps); save the file as UTF-8"
        )
        raise ConfigError([Problem(file, line, message)]) from None


def _too_large() -> str:
    return f"the file is larger than {MAX_FILE_BYTES:,} bytes, the most a client file may be; split the client"


def parse_yaml(text: str, file: str) -> Located:
    """Parse YAML keeping lines. Raises ``ConfigError`` with the line of a syntax error, a duplicate key,
    an unreadable value, or a document past ``MAX_NODES`` / ``MAX_DEPTH`` / ``MAX_FILE_BYTES``."""
    if len(text) > MAX_FILE_BYTES:  # text given directly, not read by ``read_text``
        line = text.count("\n", 0, MAX_FILE_BYTES) + 1
        raise ConfigError([Problem(file, line, _too_large())])
    try:
        loader = _BoundedLoader(text, file)  # the reader refuses unprintable characters here, at once
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. a NUL or a control code
        line = text.count("\n", 0, exc.position) + 1
        hint = " (UTF-16 saved without a byte-order mark, perhaps); save it as UTF-8" if exc.character == 0 else ""
        message = f"the file contains the character U+{exc.character:04X}, which YAML does not allow{hint}"
        raise ConfigError([Problem(file, line, message)]) from None
    except yaml.MarkedYAMLError as exc:
        at = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError([Problem(file, at, f"YAML syntax: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file, None, f"YAML syntax: {exc}")]) from None
    doc = Located(file, None)
    doc.data = {} if node is None else _construct(node, (), doc, SafeConstructor())
    return doc


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe composer, refusing (``ConfigError``) as soon as the document passes a limit.

    For every node composed it keeps the size and height its data will have with aliases expanded
    (an alias adds its anchor's, already known, since an anchor comes before its aliases); it also
    refuses an alias to an anchor still open (a node containing itself), a key that is itself a list or
    mapping, and a key given twice in one mapping.
    """

    def __init__(self, text: str, file: str) -> None:
        super().__init__(text)
        self.file = file
        self.depth = 0
        self.open_anchors: set[str] = set()
        self.aliased = False  # any alias so far: a size refusal then says where the size comes from
        self.expanded: dict[int, tuple[int, int]] = {}  # id(node) → (nodes, height), aliases expanded

    def refuse(self, line: int, message: str) -> ConfigError:
        return ConfigError([Problem(self.file, line, message)])

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        assert event.start_mark is not None  # the pure-Python parser marks every event
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            self.aliased = True
        if isinstance(event, yaml.AliasEvent) and event.anchor in self.open_anchors:
            raise self.refuse(
                line, f"the alias *{event.anchor} is inside its own anchor &{event.anchor}: it never ends"
            )
        self.depth += 1
        # Checked on the way down, before the composer recurses again: a 5,000-deep file stops here.
        if self.depth > MAX_DEPTH:
            raise self.refuse(line, f"the data is nested more than {MAX_DEPTH} levels deep")
        anchor = event.anchor if isinstance(event, yaml.CollectionStartEvent) else None
        if anchor is not None:
            self.open_anchors.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
            if anchor is not None:
                self.open_anchors.discard(anchor)
        assert node is not None  # the composer returns None only at the end of the stream
        if not isinstance(event, yaml.AliasEvent):
            self.expanded[id(node)] = self._measure(node)
        nodes, height = self.expanded[id(node)]
        # Checked at every node, so the refusal names the line where the document outgrows the limit.
        if nodes > MAX_NODES or self.depth + height > MAX_DEPTH:
            what = (
                f"more than {MAX_NODES:,} values"
                if nodes > MAX_NODES
                else f"data nested more than {MAX_DEPTH} levels deep"
            )
            via = " through aliases (*name) repeating their anchors" if self.aliased else ""
            raise self.refuse(line, f"this value expands to {what}{via}; a client file needs far less")
        return node

    def _measure(self, node: yaml.Node) -> tuple[int, int]:
        if isinstance(node, yaml.SequenceNode):
            children = [self.expanded[id(item)] for item in node.value]
        elif isinstance(node, yaml.MappingNode):
            children = []
            seen: dict[str, int] = {}
            for key, value in node.value:
                line = key.start_mark.line + 1
                if not isinstance(key, yaml.ScalarNode):
                    raise self.refuse(line, "a key must be a single word or value, not a list or mapping")
                if key.value in seen:
                    raise self.refuse(
                        line, f"the key {key.value!r} is given twice in one mapping (first on line {seen[key.value]})"
                    )
                seen[key.value] = line
                children += [self.expanded[id(key)], self.expanded[id(value)]]
        else:
            return 1, 1
        return 1 + sum(n for n, _ in children), 1 + max((h for _, h in children), default=0)


def _construct(node: yaml.Node, path: Path_, doc: Located, scalars: SafeConstructor) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value  # a scalar: the composer refused any other key
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*path, key), doc, scalars)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), doc, scalars) for i, item in enumerate(node.value)]
    # Scalars: PyYAML's safe constructor decides the type (str, int, bool, null…) as usual. An empty value
    # (``rules:`` with nothing after it) is null, not a parse error.
    try:
        return scalars.construct_object(node)
    except (yaml.YAMLError, ValueError, TypeError) as exc:  # e.g. `!!int x`, a date like 2026-13-45
        line = node.start_mark.line + 1
        what = getattr(exc, "problem", None) or exc
        shown = node.value if len(node.value) <= 40 else node.value[:40] + "…"  # not a whole megabyte back
        raise ConfigError([Problem(doc.file, line, f"YAML value {shown!r} cannot be read: {what}")]) from None
