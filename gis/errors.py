"""The error types of agrigis.

Every error raised on purpose derives from :class:`AgrigisError` *and* from the
builtin that fits (``ValueError``, ``OSError`` …), so callers can catch either.
Messages name the file, row or value that is wrong and say how to fix it; the CLI
prints them without a traceback.

Examples
--------
>>> from gis.errors import InputError, AgrigisError
>>> try:
...     raise InputError("row 3: year 20240 is not a year; write it as 2024")
... except ValueError as e:
...     print(isinstance(e, AgrigisError), e)
True row 3: year 20240 is not a year; write it as 2024

An error raised with a message key (a template of :mod:`gis.label_table` (``gis/labels/*.yml``)) and its
values is English for ``str()`` -- what tests, logs and notebooks see -- and any
language for :meth:`AgrigisError.text`, which the CLI prints in its ``--lang``:

>>> exc = DataFileError.of("error.file_not_found", path="parcels.shp")
>>> print(exc)
parcels.shp: file not found; check the path
>>> print(exc.text("zh"))
parcels.shp:找不到文件,请检查路径
>>> exc.key, exc.params
('error.file_not_found', {'path': 'parcels.shp'})
>>> InputError("plain text").text("zh")  # no key: the English text in every language
'plain text'
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typing.Self from Python 3.11; the package supports 3.10
    from typing_extensions import Self

from .label_table import message


def _render(value: Any, lang: str) -> Any:
    """A message value in ``lang``: values with a ``text(lang)`` method (a nested
    :class:`Message`, an error) are translated too; others are inserted unchanged."""
    text = getattr(value, "text", None)
    return text(lang) if callable(text) else value


class Message:
    """A message key of :mod:`gis.label_table` (``gis/labels/*.yml``) with its values, rendered on demand.

    ``str()`` is the English text; :meth:`text` any language. Values that are
    themselves a :class:`Message` or a keyed :class:`AgrigisError` are rendered in the
    same language, so sentences can be put together from parts.

    Examples
    --------
    >>> m = Message("error.crs_what_given", crs="EPSG:4326")
    >>> str(m), m.text("zh")
    ('--crs EPSG:4326', '--crs EPSG:4326 指定的坐标系')
    """

    __slots__ = ("key", "params")

    def __init__(self, key: str, /, **params: Any) -> None:
        self.key = key
        self.params = params

    def text(self, lang: str = "zh") -> str:
        """The message in ``lang`` (``"zh"``, the default, or ``"en"``)."""
        return message(self.key, lang, **{k: _render(v, lang) for k, v in self.params.items()})

    def __str__(self) -> str:
        return self.text("en")

    def __repr__(self) -> str:
        return f"Message({self.key!r}, **{self.params!r})"


class AgrigisError(Exception):
    """Root of every error agrigis raises on purpose.

    Raise it with a plain English text, ``InputError("…")``, or with a message key and
    its values, ``InputError.of("error.…", column="XMBH")`` (the same as
    ``InputError(key="error.…", column="XMBH")``): then ``str(exc)`` is the English
    text of the key and :meth:`text` gives it in Chinese or English.

    Attributes
    ----------
    key : str or None
        The message key, or None for an error raised with a plain text.
    params : dict
        The values filled into the key's template.
    """

    def __init__(self, *args: object, key: str | None = None, **params: Any) -> None:
        if key is None:
            if params:
                raise TypeError(f"{type(self).__name__}: values {sorted(params)} need a message key")
        else:
            if args:
                raise TypeError(f"{type(self).__name__}: give either a text or a message key, not both")
            args = (str(Message(key, **params)),)
        super().__init__(*args)
        self.key: str | None = key
        self.params: dict[str, Any] = params

    @classmethod
    def of(cls, key: str, /, **params: Any) -> Self:
        """The error for message ``key`` filled with ``params`` (English ``str()``).

        Unlike ``cls(key=…, **params)``, a value may itself be called ``key``.
        """
        exc = cls(str(Message(key, **params)))
        exc.key, exc.params = key, params
        return exc

    def text(self, lang: str = "zh") -> str:
        """The message in ``lang``; ``str(self)`` when the error was raised without a key."""
        key = getattr(self, "key", None)
        if key is None:
            return str(self)
        return Message(key, **self.params).text(lang)


class InputError(AgrigisError, ValueError):
    """A value, row or column of user input is unusable."""


class ConfigError(AgrigisError, ValueError):
    """A configuration file (targets, mapping, scheme, catalogue …) is invalid."""


class CRSError(AgrigisError, ValueError):
    """A coordinate reference system is missing, wrong or unsupported."""


class MissingCRSError(CRSError):
    """Data has no CRS where one is required."""


class AmbiguousCRSError(CRSError):
    """The CRS of data without one cannot be told from its coordinates."""


class GridError(AgrigisError, ValueError):
    """A raster grid cannot be used (no CRS, rotated, no overlap …)."""


class DataFileError(AgrigisError, OSError):
    """A file is missing, unreadable, truncated or of an unknown format."""


class RegistryError(AgrigisError, RuntimeError):
    """The project registry is in a state that forbids the operation."""


class RegistryBusyError(RegistryError):
    """Another process is writing to the registry right now."""


class MissingDependencyError(AgrigisError, ImportError):
    """An optional package is needed for this feature and is not installed."""


def require(module: str, feature: str, extra: str | None = None) -> ModuleType:
    """Import an optional module lazily, or raise a clear install hint.

    Parameters
    ----------
    module : str
        Importable module name, e.g. ``"dask.array"``.
    feature : str
        What the user tried to do, for the message.
    extra : str, optional
        The pip extra of baicheng-agrigis that brings it, e.g. ``"scale"``.

    Examples
    --------
    >>> require("json", "reading JSON").dumps([1])
    '[1]'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        pkg = module.split(".", 1)[0]
        hint = (
            f'pip install "baicheng-agrigis[{extra}]"' if extra else f"pip install {pkg}"
        )
        raise MissingDependencyError(
            f"{feature} needs the package '{pkg}', which is not installed; "
            f"install it with: {hint} (conda: conda install -c conda-forge {pkg})"
        ) from exc
