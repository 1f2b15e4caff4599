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
"""

from __future__ import annotations


class AgrigisError(Exception):
    """Root of every error agrigis raises on purpose."""


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


def require(module: str, feature: str, extra: str | None = None):
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
        pkg = module.split(".")[0]
        hint = (
            f'pip install "baicheng-agrigis[{extra}]"' if extra else f"pip install {pkg}"
        )
        raise MissingDependencyError(
            f"{feature} needs the package '{pkg}', which is not installed; "
            f"install it with: {hint} (conda: conda install -c conda-forge {pkg})"
        ) from exc
