"""Read one definition file as YAML, bounded: size, encoding, aliases, depth, duplicate keys.

Definitions are hostile input, and dags/ reads them at every parse. Before any node or
Python object is built, a file must be at most MAX_BYTES, UTF-8 text without control
characters, and hold at most MAX_NODES values and MAX_DEPTH levels, counted with aliases
expanded (a "billion laughs" file is a few hundred bytes).
Every refusal is a DefinitionError naming the file and, where there is one, the line.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from ferry.exceptions import Terminal
from ferry.spec.errors import DefinitionError, document_path, format_loc, shorten

MAX_BYTES = 256 * 1024  # ~0.1 s to read; the biggest shipped file is under 10 KiB
MAX_NODES = 20_000  # scalars and collections of a file, counted with aliases expanded
MAX_DEPTH = 64
SAVE_AS_UTF8 = "save it as UTF-8"
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x84\x86-\x9f\ufffe\uffff]")
_FOREIGN_BOMS = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
# Every alias is '*' and an anchor character, and every value takes at least one character:
# a short text without an alias skips the event pass (and its cost) and has only its depth
# checked, on the nodes.
_MAYBE_ALIAS = re.compile(r"\*[^\s,\[\]{}]")


class UnreadableFile(Terminal):
    """A file that is not a readable definition; .error says where and why."""

    def __init__(self, error: DefinitionError):
        super().__init__(str(error))
        self.error = error


class Document:
    """One definition file, read: its data, and its node tree for errors that need a line.

    With collect_duplicates, a duplicate key does not refuse the file: it is listed in
    .duplicates (with its loc), for a file of many definitions to refuse only the one that
    holds it; the data then has YAML's last value, which nobody may use unchecked.
    """

    def __init__(self, path: Path, root: Path, *, collect_duplicates: bool = False):
        self.path = path
        self.name = display_name(path, root)
        self.duplicates: list[tuple[tuple, DefinitionError]] | None = (
            [] if collect_duplicates else None
        )
        self.node, self.data = read_yaml(path, self.name, self.duplicates)

    def error(self, loc: tuple, problem: str, hint: str = "") -> DefinitionError:
        kept, line = document_path(self.node, loc)
        return DefinitionError(self.name, problem, format_loc(kept), line, hint)


def display_name(path: Path, root: Path) -> str:
    """include/exports/x.yaml: the path from include/'s parent, as users see it."""
    try:
        return str(path.resolve().relative_to(root.resolve().parent))
    except ValueError:
        return str(path)


def definition_files(folder: Path) -> Iterator[Path]:
    """The YAML files of a folder: .yaml and .yml in any case, in name order.

    Hidden files are skipped: editors keep locks and backups there (.#x.yaml).
    """
    if not folder.is_dir():
        return iter(())
    found = (
        path
        for path in folder.iterdir()
        if path.suffix.lower() in (".yaml", ".yml") and not path.name.startswith(".")
    )
    return iter(sorted(found))


_CLEAN_NAME = re.compile(r"[a-z0-9_]{1,100}")


def broken_key(path: Path) -> str:
    """'include/exports/x.yaml' -> 'exports.x': names the error DAG, injectively.

    A name that is not already lowercase [a-z0-9_] .yaml (or too long for a dag_id) keeps
    a readable part and gets a hash of the whole file name after '-', which clean names
    never contain: 'Bad File.yml' -> 'exports.bad_file-1f3a9c0b2e'.
    """
    parent = path.parent.name
    folder = parent if _CLEAN_NAME.fullmatch(parent) else _hashed(parent, parent)
    if _CLEAN_NAME.fullmatch(path.stem) and path.suffix == ".yaml":
        return f"{folder}.{path.stem}"
    return f"{folder}.{_hashed(path.stem, path.name)}"


def _hashed(name: str, whole: str) -> str:
    readable = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:60] or "unnamed"
    digest = hashlib.sha256(whole.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"{readable}-{digest}"


def read_yaml(
    path: Path, name: str, duplicates: list | None = None
) -> tuple[yaml.Node | None, Any]:
    """The file's node tree and data; raises UnreadableFile with file, line and fix.

    duplicates: a list to collect (loc, error) of duplicate keys in, rather than refusing.
    """
    text = decode(read_bounded(path, name), name)
    if len(text) > MAX_NODES or _MAYBE_ALIAS.search(text):
        check_expansion(text, name)
    return construct(text, name, duplicates)


def read_bounded(path: Path, name: str) -> bytes:
    """At most MAX_BYTES of a regular file (never a FIFO or device that would not end)."""
    if not path.is_file():
        raise UnreadableFile(DefinitionError(name, "is not a regular file", hint="remove it"))
    with path.open("rb") as stream:
        raw = stream.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        problem = f"is larger than {MAX_BYTES // 1024} KiB"
        raise UnreadableFile(DefinitionError(name, problem, hint="split it into smaller files"))
    return raw


def decode(raw: bytes, name: str) -> str:
    """Strict UTF-8 (a UTF-8 byte order mark is allowed), and no control characters."""
    for bom, encoding in _FOREIGN_BOMS.items():
        if raw.startswith(bom):
            problem = f"is {encoding} text (it starts with a {encoding} byte order mark)"
            raise UnreadableFile(DefinitionError(name, problem, "", 1, SAVE_AS_UTF8))
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        problem = f"byte 0x{raw[error.start]:02x} is not UTF-8 (Latin-1 or UTF-16 text?)"
        raise UnreadableFile(DefinitionError(name, problem, "", line, SAVE_AS_UTF8)) from None
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        what = (
            "a NUL byte" if bad.group() == "\x00" else f"control character U+{ord(bad.group()):04X}"
        )
        problem = f"has {what}, which YAML text cannot hold"
        raise UnreadableFile(DefinitionError(name, problem, "", line, f"remove it; {SAVE_AS_UTF8}"))
    return text


def check_expansion(text: str, name: str) -> None:
    """Refuse deep nesting, too many values and alias bombs from the event stream, before
    any node is built.

    Each anchor's size (values, counted with its own aliases expanded) and depth are known
    when it ends, so an alias costs its anchor's size; the error names the line that uses it.
    """
    anchors: dict[str, tuple[int, int]] = {}
    stack: list[list] = []  # per open collection: [anchor, size, depth below]
    total, aliased = 0, False
    for event in _events(text, name):
        if isinstance(event, yaml.AliasEvent):
            aliased, total = True, total + anchors.get(event.anchor, (1, 1))[0]
        elif isinstance(event, yaml.NodeEvent):  # a scalar or a collection's start
            total += 1
        if total > MAX_NODES:
            raise _too_many(name, event, aliased)
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(stack) >= MAX_DEPTH:
                raise _too_deep(name, event)
            stack.append([event.anchor, 1, 1])
            continue
        if isinstance(event, yaml.AliasEvent):
            size, depth = anchors.get(event.anchor, (1, 1))
            if len(stack) + depth > MAX_DEPTH:
                raise _too_deep(name, event)
            _close(stack, anchors, None, size, depth)
        elif isinstance(event, yaml.ScalarEvent):
            _close(stack, anchors, event.anchor, 1, 1)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, size, depth = stack.pop()
            _close(stack, anchors, anchor, size, depth)


def _close(stack: list, anchors: dict, anchor: str | None, size: int, depth: int) -> None:
    if anchor is not None:
        anchors[anchor] = (size, depth)
    if stack:
        stack[-1][1] += size
        stack[-1][2] = max(stack[-1][2], depth + 1)


def _too_many(name: str, event: yaml.Event, aliased: bool) -> UnreadableFile:
    if aliased:
        problem = f"aliases expand it to more than {MAX_NODES:,} values"
        hint = "write the values out, or use fewer aliases"
    else:
        problem, hint = f"has more than {MAX_NODES:,} values", "split it into smaller files"
    return UnreadableFile(DefinitionError(name, problem, "", _line(event), hint))


def _too_deep(name: str, event: yaml.Event | yaml.Node) -> UnreadableFile:
    problem = f"nests deeper than {MAX_DEPTH} levels (aliases expanded)"
    return UnreadableFile(DefinitionError(name, problem, "", _line(event), "flatten it"))


def _check_depth(root: yaml.Node, name: str) -> None:
    """MAX_DEPTH on a tree without aliases (libyaml itself stops at 1000 levels)."""
    level, depth = [root], 1
    while level:
        if depth > MAX_DEPTH:
            raise _too_deep(name, level[0])
        below = []
        for node in level:
            if isinstance(node, yaml.MappingNode):
                below += [c for pair in node.value for c in pair if not _scalar(c)]
            elif isinstance(node, yaml.SequenceNode):
                below += [c for c in node.value if not _scalar(c)]
        level, depth = below, depth + 1


def _scalar(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode)


def _line(event: yaml.Event | yaml.Node) -> int:
    return event.start_mark.line + 1


def _events(text: str, name: str):
    try:
        yield from yaml.parse(text, Loader=_BASE_LOADER)
    except yaml.YAMLError as error:
        raise UnreadableFile(yaml_error(name, error)) from None


def construct(text: str, name: str, duplicates: list | None = None) -> tuple[yaml.Node | None, Any]:
    loader = _Loader(text)
    loader.duplicates = duplicates
    try:
        node = loader.get_single_node()
        if node is None:
            problem = "is empty (or only comments)"
            hint = "write the definition's fields, e.g. id: and name:"
            raise UnreadableFile(DefinitionError(name, problem, "", 1, hint))
        _check_depth(node, name)
        try:
            data = loader.construct_document(node)
            if duplicates:
                duplicates[:] = [
                    (node_loc(node, key.second), key.definition_error(name, node))
                    for key in duplicates
                ]
            return node, data
        except DuplicateKey as error:
            raise UnreadableFile(error.definition_error(name, node)) from None
    except yaml.YAMLError as error:
        raise UnreadableFile(yaml_error(name, error)) from None
    finally:
        loader.dispose()


def yaml_error(name: str, error: yaml.YAMLError) -> DefinitionError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + 1 if mark else None
    problem = getattr(error, "problem", None) or str(error)
    return DefinitionError(name, f"not valid YAML: {shorten(problem, 200, quote=False)}", "", line)


class DuplicateKey(ConstructorError, Terminal):
    """A mapping names one key twice: YAML would silently keep the last."""

    def __init__(self, key: Any, first: yaml.Node, second: yaml.Node):
        super().__init__(None, None, "duplicate key", second.start_mark)
        self.key, self.first, self.second = key, first, second

    def definition_error(self, name: str, root: yaml.Node) -> DefinitionError:
        loc = node_loc(root, self.second)
        problem = f"duplicate key {shorten(self.key)} (first on line {_line(self.first)})"
        hint = "keep one: YAML would silently use the last"
        return DefinitionError(name, problem, format_loc(loc), _line(self.second), hint)


def node_loc(root: yaml.Node, target: yaml.Node) -> tuple:
    """The path of keys and indexes from root to the key node target (breadth first)."""
    queue, seen = [(root, ())], set()
    while queue:
        node, loc = queue.pop(0)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key is target:
                    return (*loc, key.value)
                queue.append((value, (*loc, key.value)))
        elif isinstance(node, yaml.SequenceNode):
            queue.extend((child, (*loc, index)) for index, child in enumerate(node.value))
    return ()


class _Loader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader, refusing duplicate keys; bad scalars are errors with their line."""

    duplicates: list | None = None  # collect DuplicateKey here rather than raise it

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = key_node.value if key_node.tag == _STR_TAG else None
                key = key if key is not None else self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue  # an unhashable key: the base class says so
                if first is not key_node:
                    if self.duplicates is None:
                        raise DuplicateKey(key, first, key_node)
                    self.duplicates.append(DuplicateKey(key, first, key_node))
        return super().construct_mapping(node, deep=deep)


def _timestamp(loader: SafeConstructor, node: yaml.Node) -> dt.date | str:
    """A date YAML cannot build (2026-02-30) stays text, for the model to say what is wrong."""
    try:
        return SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return node.value


def _guarded(construct):
    """A scalar constructor whose failure (!!int twelve) is a YAML error with the line."""

    def guarded(loader: SafeConstructor, node: yaml.Node) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as error:
            problem = f"cannot read {shorten(node.value)} as {node.tag.rsplit(':', 1)[-1]}"
            raise ConstructorError(None, None, f"{problem} ({error})", node.start_mark) from None

    return guarded


def _binary(loader: SafeConstructor, node: yaml.Node) -> None:
    """No field takes raw bytes, and bytes do not render into a DAG's resolved definition."""
    raise ConstructorError(
        None, None, "binary (!!binary) values are not supported", node.start_mark
    )


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _guarded(_timestamp))
for _kind in ("int", "float", "bool"):
    _Loader.add_constructor(
        f"tag:yaml.org,2002:{_kind}", _guarded(getattr(SafeConstructor, f"construct_yaml_{_kind}"))
    )
_Loader.add_constructor("tag:yaml.org,2002:binary", _binary)
