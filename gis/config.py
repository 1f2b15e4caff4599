"""Configuration files: the one safe YAML loader, and type checks for what it returns.

Every YAML file agrigis reads -- a workspace ``catalog.yml``, an import ``--mapping``, a
targets file, a suitability configuration, a salinity scheme, the bundled field table --
is read with :func:`load_yaml`, which

- refuses a file larger than :data:`MAX_CONFIG_BYTES` (1 MiB) before reading it whole;
- reads bytes and decodes UTF-8 (with or without a BOM, or UTF-16 with its BOM); any
  other encoding (GBK from an old Chinese editor, typically) is refused with a message
  that says to save the file as UTF-8 -- never guessed, since a wrong guess silently
  turns names into others;
- parses with PyYAML's safe constructor and a composer of our own that, before anything
  is expanded, counts how many values the document holds once every alias (``*name``)
  is expanded, and refuses more than :data:`MAX_EXPANDED_VALUES` (the "billion laughs"
  bomb), an alias that refers to itself, and nesting deeper than :data:`MAX_DEPTH`.
  Aliases are allowed otherwise (``<<: *defaults`` is handy): counting what they
  expand to is exact, where a cap on the number of aliases is not (nine levels of ten
  aliases make a billion values);
- keeps the line of a syntax error, and refuses every tag that is not plain YAML
  (``!!python/object``…) naming the tag.

:func:`expect` checks the type of one value at a key path (``layers[2].path``) and
raises a :class:`~gis.errors.ConfigError` naming the file, the key and what was
expected. List positions in key paths count from 1, as people count.

Examples
--------
>>> parse_yaml("a: &x [1, 2]\\nb: *x\\n", origin="t.yml")
{'a': [1, 2], 'b': [1, 2]}
>>> parse_yaml("a: !!python/object/apply:os.system [ls]", origin="t.yml")
Traceback (most recent call last):
...
gis.errors.ConfigError: t.yml at line 1: the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed; a configuration holds only text, numbers, true/false, lists and mappings
>>> expect([1], "mapping", origin="t.yml", at="grid")
Traceback (most recent call last):
...
gis.errors.ConfigError: t.yml: grid must be a mapping (key: value), not [1]
"""

from __future__ import annotations

import codecs
import math
import os
import re
import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import yaml

from .errors import ConfigError, DataFileError, Message

__all__ = ["MAX_CONFIG_BYTES", "MAX_EXPANDED_VALUES", "MAX_DEPTH", "load_yaml", "parse_yaml", "expect",
           "key_path", "shown"]

MAX_CONFIG_BYTES = 1 << 20
"""A configuration file is small: larger files are refused before they are read."""
MAX_EXPANDED_VALUES = 1_000_000
"""Most values (scalars, lists, mappings) a document may hold after expanding its aliases.
A file of :data:`MAX_CONFIG_BYTES` without aliases holds at most about 520,000 (``[1,1,…]``),
so only aliases can reach it."""
MAX_DEPTH = 64
"""Deepest nesting of lists and mappings."""
_KINDS = ("mapping", "list", "number", "text", "names")


# --------------------------------------------------------------------------- values in messages


class shown:  # noqa: N801 - used like a function: shown(value)
    """A value for a message, cut short: a huge list prints as ``[[1, 2, ...], ...]``.

    Examples
    --------
    >>> print(shown(list(range(100))))
    [0, 1, 2, 3, 4, 5, ...]
    >>> f"{shown('abc')!r}"
    "'abc'"
    """

    __slots__ = ("value",)
    _repr = reprlib.Repr()
    _repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 6
    _repr.maxstring = _repr.maxother = 60
    _repr.maxlevel = 3

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        text = self._repr.repr(self.value)
        return text if len(text) <= 80 else text[:77] + "..."

    def __str__(self) -> str:
        if isinstance(self.value, str):
            return self.value if len(self.value) <= 60 else self.value[:57] + "..."
        return repr(self)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def key_path(*parts: str | int) -> str:
    """A key path for messages: strings join with dots, ints are list positions.

    Examples
    --------
    >>> key_path("layers", 2, "path")
    'layers[2].path'
    """
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# --------------------------------------------------------------------------- type checks


def _is(value: Any, kind: str) -> bool:
    if kind == "mapping":
        return isinstance(value, Mapping)
    if kind == "list":
        return isinstance(value, (list, tuple))
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "text":
        return isinstance(value, str)
    return isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value))


def expect(value: Any, kind: str, *, origin: str | os.PathLike[str], at: str, optional: bool = False) -> Any:
    """``value`` if it is of ``kind``, else a :class:`ConfigError` naming file and key.

    Parameters
    ----------
    value
        The parsed value.
    kind : {"mapping", "list", "number", "text", "names"}
        ``number`` is a finite int or float (not true/false); ``names`` is a text or a
        list of texts and comes back as a list.
    origin : str or path
        The file, for the message.
    at : str
        The key path, e.g. ``key_path("layers", 2, "path")``.
    optional : bool
        Accept None (a missing or empty key) and return it.

    Examples
    --------
    >>> expect("ab", "names", origin="m.yml", at="columns.project_code")
    ['ab']
    >>> expect(float("inf"), "number", origin="c.yml", at="grid.resolution_m")
    Traceback (most recent call last):
    ...
    gis.errors.ConfigError: c.yml: grid.resolution_m must be a finite number, not inf
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {_KINDS}")
    if value is None and optional:
        return None
    if not _is(value, kind):
        raise ConfigError.of("error.config_type", path=origin, at=at, expected=Message(f"config.type_{kind}"),
                             got=shown(value))
    if kind == "names":
        return [value] if isinstance(value, str) else list(value)
    return value


# --------------------------------------------------------------------------- reading


def _what(what: str) -> Message:
    return Message(f"config.what_{what}")


def _read_bytes(path: Path, what: str, max_bytes: int) -> bytes:
    """The file's bytes, refusing more than ``max_bytes`` before reading them all."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ConfigError.of("error.config_too_big", path=path, what=_what(what), size=size, limit=max_bytes)
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)  # a pipe or device can be longer than stat says
    except OSError as exc:
        raise DataFileError.of("error.config_unreadable", path=path, what=_what(what),
                               detail=exc.strerror or exc) from exc
    if len(data) > max_bytes:
        raise ConfigError.of("error.config_too_big", path=path, what=_what(what), size=f"> {max_bytes}",
                             limit=max_bytes)
    return data


def _decode(data: bytes, origin: str | os.PathLike[str], what: str) -> str:
    """UTF-8 (BOM or not) or UTF-16 with a BOM; anything else is refused with advice."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        hint: Message | str
        try:
            data.decode("gb18030")
            hint = Message("error.config_gbk_hint")
        except UnicodeDecodeError:
            hint = ""
        raise ConfigError.of("error.config_encoding", path=origin, what=_what(what), line=line, hint=hint) from None


def load_yaml(path: str | os.PathLike[str], *, what: str, max_bytes: int = MAX_CONFIG_BYTES) -> Any:
    """Read and parse one YAML configuration file safely (see the module docstring).

    Parameters
    ----------
    path : str or path
        The file. Callers check first that it exists when they have a better message.
    what : str
        What the file is, for messages: ``catalog``, ``mapping``, ``targets``,
        ``suitability``, ``scheme`` or ``fields``.
    max_bytes : int
        Largest file accepted (default :data:`MAX_CONFIG_BYTES`).

    Returns
    -------
    The parsed document (None for an empty file).

    Raises
    ------
    ConfigError
        Too big, not UTF-8, not valid YAML, an alias bomb, a forbidden tag.
    DataFileError
        The file cannot be read (missing, a folder, no permission).
    """
    p = Path(path)
    return parse_yaml(_decode(_read_bytes(p, what, max_bytes), p, what), origin=p)


def parse_yaml(text: str, *, origin: str | os.PathLike[str] = "<text>") -> Any:
    """Parse YAML ``text`` with the bounded safe loader; errors name ``origin``."""
    loader = None
    try:
        loader = _BoundedLoader(text, origin)  # the reader checks the characters here
        return loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ConfigError.of("error.config_yaml", path=origin, where=Message("error.yaml_at_line", line=line),
                             detail=f"{exc.reason} #x{char:04x}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Message("error.yaml_at_line", line=mark.line + 1) if mark is not None else ""
        raise ConfigError.of("error.config_yaml", path=origin, where=where,
                             detail=getattr(exc, "problem", None) or exc) from None
    finally:
        if loader is not None:
            loader.dispose()


# --------------------------------------------------------------------------- the bounded loader


if TYPE_CHECKING:  # what the type checker sees: libyaml's C parser has no type information
    _Parser = yaml.SafeLoader
elif yaml.__with_libyaml__:  # libyaml scans and parses (8× faster); the composing stays ours
    class _Parser(yaml.composer.Composer, yaml.cyaml.CParser, yaml.constructor.SafeConstructor,
                  yaml.resolver.Resolver):
        def __init__(self, stream: str) -> None:
            yaml.cyaml.CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            yaml.composer.Composer.__init__(self)
else:  # pragma: no cover - PyYAML built without libyaml
    _Parser = yaml.SafeLoader


class _BoundedLoader(_Parser):
    """A safe loader that sizes every node while composing, before anything is expanded.

    A node's size is 1 + the sizes of its children; an alias counts the full size of the
    node it names (that is what it expands to), without copying anything.
    """

    def __init__(self, stream: str, origin: str | os.PathLike[str]) -> None:
        self.origin = origin
        super().__init__(stream)
        self._sizes: dict[int, int] = {}
        self._depth = 0

    def _fail(self, key: str, mark: yaml.Mark | None, **params: Any) -> NoReturn:
        where = Message("error.yaml_at_line", line=mark.line + 1) if mark is not None else ""
        raise ConfigError.of(key, path=self.origin, where=where, **params)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
            node = super().compose_node(parent, index)
            assert node is not None  # the composer returns None only at the end of the stream
            if id(node) not in self._sizes:
                self._fail("error.config_recursive_alias", event.start_mark, anchor=event.anchor)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            self._fail("error.config_too_deep", self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                       limit=MAX_DEPTH)
        node = super().compose_node(parent, index)
        assert node is not None
        self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._sizes[id(n)] for n in node.value)
        elif isinstance(node, yaml.MappingNode):
            self._check_duplicates(node)
            size = 1 + sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        else:
            size = 1
        if size > MAX_EXPANDED_VALUES:
            self._fail("error.config_expansion", node.start_mark, limit=MAX_EXPANDED_VALUES)
        self._sizes[id(node)] = size
        return node

    def _check_duplicates(self, node: yaml.MappingNode) -> None:
        """A key written twice in one mapping is refused (YAML would keep the last one silently)."""
        seen: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue
            tag = self.resolve(yaml.ScalarNode, key.value, (True, False)) if key.tag is None else key.tag
            first = seen.setdefault((tag, key.value), key.start_mark.line + 1)
            if first != key.start_mark.line + 1:
                self._fail("error.config_duplicate_key", key.start_mark, name=key.value, first=first)

    def construct_undefined(self, node: yaml.Node) -> NoReturn:
        self._fail("error.config_tag", node.start_mark, tag=node.tag)


_BoundedLoader.add_constructor(None, _BoundedLoader.construct_undefined)

# YAML 1.2 floats: PyYAML (YAML 1.1) reads 1e300 and 2.389e1 as text because its float
# pattern needs a dot and a signed exponent; a config author means a number.
_BoundedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
