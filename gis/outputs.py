"""How every output file is written: atomically, and with cells that cannot hurt the reader.

Every table, map, GeoPackage and report agrigis writes goes through this module:

- :func:`atomic_write` writes one file to a temporary name in the target folder, flushes
  it to disk and renames it onto the target, so a kill, a full disk or an error leaves
  the previous file exactly as it was (never a 0-byte or truncated file);
- :func:`staged_outputs` does the same for several files that belong together (all of
  them land, or none);
- :func:`safe_text` is the one cell sanitiser: control characters (``\\x0b`` pasted
  from Word …) are removed; :func:`write_excel` stores every text as text (a name that
  starts with ``=`` never becomes a formula) and :func:`write_csv` / :func:`csv_frame`
  prefix formula-looking values with ``'`` as OWASP advises for CSV.

It sits in :mod:`gis` because all four rooms write outputs (``layers`` exports the
registry, ``maps`` saves HTML, ``workflows`` writes reports) and imports only run down.

Examples
--------
>>> safe_text("P1\\x0b")
'P1'
>>> csv_text("=HYPERLINK(\\"http://x\\")")
'\\'=HYPERLINK("http://x")'
>>> csv_text("-12.5 亩"), csv_text("项目")
("'-12.5 亩", '项目')
"""

from __future__ import annotations

import errno
import io
import json
import logging
import math
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import pandas as pd

from .errors import AgrigisError, DataFileError

log = logging.getLogger(__name__)

__all__ = ["Sheet", "atomic_write", "staged_outputs", "write_excel", "write_csv", "write_text", "csv_frame",
           "safe_text", "terminal_text", "csv_text", "tidy_folder", "output_error", "tidy_numbers", "unit_decimals"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Characters no report cell may hold (XML 1.0 forbids them; Excel refuses the file)."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
"""First characters that make a spreadsheet read a CSV value as a formula (OWASP)."""


def safe_text(value: str) -> str:
    """``value`` without control characters (tab and line breaks are kept)."""
    return _CONTROL.sub("", value)


_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Characters a terminal would obey rather than show: C0 controls but tab and line feed
(ESC starts colour, cursor and title sequences; CR overwrites a line), DEL, the C1
controls (``\x9b`` is a one-byte CSI) and the bidirectional overrides."""


def terminal_text(value: object) -> str:
    """``value`` as text that is safe to print to a terminal: no ESC sequences, C1
    controls or bidirectional overrides a hand-edited registry value could smuggle in.

    Examples
    --------
    >>> terminal_text("=HYPERLINK(\\"x\\")\\x1b[2J\\x9b31m\\u202eP1")
    '=HYPERLINK("x")[2J31mP1'
    """
    return _TERMINAL_CONTROL.sub("", str(value))


def csv_text(value: str) -> str:
    """A text for a CSV cell: control characters removed, and a ``'`` in front of a
    value that a spreadsheet would run as a formula (``=…``, ``+…``, ``-…``, ``@…``)."""
    value = safe_text(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells (and headers) are safe to open in a spreadsheet."""
    out = df.copy()
    out.columns = [csv_text(c) if isinstance(c, str) else c for c in out.columns]
    for c in out.columns[[pd.api.types.is_object_dtype(dt) or isinstance(dt, pd.StringDtype) for dt in out.dtypes]]:
        out[c] = out[c].map(lambda v: csv_text(v) if isinstance(v, str) else v)
    return out


def output_error(path: Path, exc: OSError) -> DataFileError:
    """An OS error while writing ``path``, said in plain words with the remedy."""
    if exc.errno == errno.ENOSPC:
        return DataFileError.of("error.output_disk_full", path=path)
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DataFileError.of("error.output_permission", path=path, detail=exc.strerror or str(exc))
    return DataFileError.of("error.output_failed", path=path, detail=exc.strerror or str(exc))


def _make_folder(folder: Path) -> None:
    """Create ``folder`` if needed and clean up what killed runs left in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError.of("error.output_folder", path=folder, detail=exc.strerror or str(exc)) from None
    tidy_folder(folder)


def _sync(path: Path) -> None:
    """Flush a written file to the disk, so a crash after the rename cannot leave it empty."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems without fsync
        pass
    finally:
        os.close(fd)


def _readable(path: Path) -> None:
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)  # mkstemp makes 0600; a report is for others to read


def _os_error(exc: BaseException) -> OSError | None:
    """``exc`` as the OS error it reports: itself when it is one, else an :class:`OSError`
    for a storage fault that GDAL, pyogrio, SQLite or rasterio only report as text (``No
    space left on device``, ``database or disk is full`` …); None for any other error."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc
    seen = 0
    cause: BaseException | None = exc
    while cause is not None and seen < 8:  # "Write failed. See previous exception for details."
        for marker, code in _STORAGE_TEXTS:
            if marker in str(cause):
                return OSError(code, os.strerror(code))
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return exc if isinstance(exc, OSError) else None


_STORAGE_TEXTS = (("database or disk is full", errno.ENOSPC),) + tuple(
    (os.strerror(getattr(errno, n)), getattr(errno, n))
    for n in ("ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM") if hasattr(errno, n))
"""Faults of the disk a writer may report only in its message."""


def _fail(path: Path, exc: BaseException) -> BaseException:
    """The error to raise for ``exc`` while writing ``path``: a storage fault in plain
    words naming ``path``; an agrigis error or a programming error unchanged."""
    if isinstance(exc, AgrigisError):
        return exc
    os_exc = _os_error(exc)
    if os_exc is None and (isinstance(exc, _PROGRAMMING_ERRORS) or not _no_room(path.parent)):
        return exc
    if (os_exc is None or os_exc.errno is None) and _no_room(path.parent):
        # a writer that does not say why it failed ("Cannot write feature" from pyogrio,
        # "Write failed" from rasterio …) while the disk has no room left: the disk is full
        os_exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if os_exc is None:  # the disk had room again when asked the second time
        return exc
    return output_error(path, os_exc)


_PROGRAMMING_ERRORS = (TypeError, AttributeError, NameError, LookupError, AssertionError, ArithmeticError,
                       NotImplementedError, ImportError, RecursionError)
"""Errors of the code itself: raised as they are, even on a full disk (never "disk full")."""


def _no_room(folder: Path) -> bool:
    """Whether the disk of ``folder`` has (almost) no free space left."""
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` then move the finished temporary file onto ``path``.

    The temporary file lies in the target folder (a rename there is atomic) and is
    removed whatever happens; an OS error (also one that GDAL or rasterio report as
    text) becomes a :class:`DataFileError` that names ``path`` and the remedy (disk
    full, no permission, file open in Excel). ``tmp_path`` does not exist yet when
    ``write`` is called (GDAL refuses to overwrite an empty file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(p, lambda tmp: tmp.write_text("ok")).read_text()
    'ok'
    """
    path = Path(path)
    _make_folder(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise output_error(path, exc) from None
    os.close(fd)
    os.unlink(tmp)  # writers such as GDAL refuse to overwrite an existing empty file
    try:
        write(Path(tmp))
        _sync(Path(tmp))
        _readable(Path(tmp))
        os.replace(tmp, path)
    except Exception as exc:  # noqa: BLE001 - storage faults are mapped, anything else re-raised
        err = _fail(path, exc)
        if err is exc:
            raise
        raise err from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, e.g. an HTML report or map.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> write_text(pathlib.Path(tempfile.mkdtemp()) / "a.html", "<p>好</p>").read_text(encoding="utf-8")
    '<p>好</p>'
    """
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _public(name: str | os.PathLike[str] | None, tmp: Path, out: Path) -> Path:
    """The output path a person knows for a path inside the staging folder ``tmp``."""
    if not name:
        return out
    try:
        rel = Path(name).relative_to(tmp)
    except ValueError:
        return Path(name)
    return out / rel.parts[0] if rel.parts else out


def _staged_fail(exc: BaseException, tmp: Path, out: Path) -> BaseException:
    """``exc`` raised while writing into ``tmp``, said about the files in ``out``."""
    if isinstance(exc, AgrigisError):
        params = dict(getattr(exc, "params", {}) or {})
        if exc.key is None or "path" not in params or _public(params["path"], tmp, out) == Path(params["path"]):
            return exc
        params["path"] = _public(params["path"], tmp, out)
        return type(exc).of(exc.key, **params)
    return _fail(_public(getattr(exc, "filename", None) or _newest(tmp), tmp, out), exc)


def _newest(folder: Path) -> Path | None:
    """The file last written in ``folder``: the one a writer that does not say which
    file failed (GDAL, SQLite) was writing."""
    try:
        files = [p for p in folder.iterdir() if p.is_file()]
        return max(files, key=lambda p: p.stat().st_mtime_ns) if files else None
    except OSError:
        return None


_STAGING_PREFIX = ".agrigis-"
"""Name start of the staging folders of :func:`staged_outputs` (``.agrigis-XXXXXXXX``)."""
_MANIFEST = ".publish.json"
"""In a staging folder: the files being published (written before the first rename,
removed after the last one). Found later, it marks a publish that was killed midway."""
_PREVIOUS = ".previous"
"""In a staging folder: hard links to the files a publish replaces (to put them back)."""

_after_replace: Callable[[Path], object] | None = None
"""Called with each output just moved into place by :func:`staged_outputs` (None: nothing).
A test hook: a test process sets it to kill itself between two renames."""


def _publish(tmp: Path, out: Path, names: list[str]) -> None:
    """Move every staged file of ``names`` from ``tmp`` into ``out``; if one move fails,
    the files already moved are put back as they were (hard links keep the old ones).

    Before the first rename a manifest (:data:`_MANIFEST`) records the set; a process
    killed between two renames leaves it, and the next write into ``out`` rolls the
    set back (:func:`_recover`)."""
    for n in names:
        if not (tmp / n).is_file():
            raise RuntimeError(f"staged output {n!r} was not written")  # a programming error
        _sync(tmp / n)
        _readable(tmp / n)
    keep = tmp / _PREVIOUS
    keep.mkdir()
    plan = [_keep_old(out / n, keep / n) | {"name": n, "ino": _inode(tmp / n)} for n in names]
    _write_manifest(tmp, plan)
    moved: list[tuple[str, bool, bool]] = []  # name, existed before, old one kept
    for item in plan:
        n, target = item["name"], out / item["name"]
        try:
            os.replace(tmp / n, target)
        except OSError as exc:
            _put_back(out, keep, moved)
            raise output_error(target, exc) from None
        moved.append((n, item["existed"], item["kept"]))
        if _after_replace is not None:
            _after_replace(target)
    (tmp / _MANIFEST).unlink()


def _keep_old(target: Path, link: Path) -> dict[str, Any]:
    """Hard-link the file ``target`` will replace to ``link``: ``existed``, ``kept``."""
    existed = target.is_file()
    if not existed:
        return {"existed": False, "kept": False}
    try:
        os.link(target, link)
        return {"existed": True, "kept": True}
    except OSError:  # no hard links here (FAT, some shares): cannot be put back
        return {"existed": True, "kept": False}


def _inode(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_dev, st.st_ino]


def _write_manifest(tmp: Path, plan: list[dict[str, Any]]) -> None:
    """Write the manifest of a publish durably (it must exist before the first rename)."""
    part = tmp / (_MANIFEST + ".part")
    part.write_text(json.dumps({"pid": os.getpid(), "files": plan}), encoding="utf-8")
    _sync(part)
    os.replace(part, tmp / _MANIFEST)
    _sync(tmp)


def _put_back(out: Path, keep: Path, moved: list[tuple[str, bool, bool]]) -> None:
    for n, existed, kept in reversed(moved):
        try:
            if kept:
                os.replace(keep / n, out / n)
            elif not existed:
                os.unlink(out / n)
        except OSError:  # pragma: no cover - the first error is the one to report
            log.warning("could not restore %s after a failed write", out / n)


# ------------------------------------------------------------- what a kill leaves behind

STALE_AFTER = 3600.0
"""Seconds after which a temporary file or staging folder of agrigis that is still there
belongs to a run that was killed (a live run keeps touching its files)."""

_TEMP_FILE = re.compile(r"^\..+-[a-z0-9_]{8}(\.[A-Za-z0-9]+)?(-journal|-wal|-shm)?$")
"""Names :func:`atomic_write` gives its temporary files (``.<stem>-<8 random
characters><suffix>``, as :func:`tempfile.mkstemp` makes them) and the side files SQLite
adds to a temporary GeoPackage."""
_STAGING = re.compile(r"^\.agrigis-[a-z0-9_]{8}$")
"""Names of the staging folders of :func:`staged_outputs` (:func:`tempfile.mkdtemp`)."""


def tidy_folder(folder: str | os.PathLike[str], *, now: float | None = None) -> list[Path]:
    """Clean up after agrigis runs that were killed while writing into ``folder``.

    Called by every output call before it writes there. A publish of
    :func:`staged_outputs` killed between its renames (a manifest in its staging folder,
    its process gone) is rolled back: each output it already replaced gets its previous
    file back (or is removed when it did not exist before), so the folder holds the
    consistent old set, as if the killed run had never published. Only when an old file
    could not be kept (no hard links on that disk) is the publish rolled forward instead
    (the rest of the new set is moved in). Temporary files of :func:`atomic_write` and
    staging folders older than :data:`STALE_AFTER` are removed; nothing else is touched.
    Returns what was removed or recovered.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> old = d / ".report-ab12cd34.xlsx"
    >>> _ = old.write_bytes(b"half")
    >>> os.utime(old, (0, 0))
    >>> [p.name for p in tidy_folder(d)], old.exists()
    (['.report-ab12cd34.xlsx'], False)
    """
    folder = Path(folder)
    now = time.time() if now is None else now
    done: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return done
    for e in entries:
        try:
            if e.is_dir(follow_symlinks=False) and _STAGING.match(e.name):
                if _recover(Path(e.path), folder) or now - _newest_mtime(Path(e.path)) > STALE_AFTER:
                    shutil.rmtree(e.path, ignore_errors=True)
                    done.append(Path(e.path))
            elif e.is_file(follow_symlinks=False) and _TEMP_FILE.match(e.name) \
                    and now - e.stat(follow_symlinks=False).st_mtime > STALE_AFTER:
                os.unlink(e.path)
                done.append(Path(e.path))
        except OSError:  # another run removed it first, or it cannot be removed: leave it
            continue
    if done:
        log.info("removed %d files left by killed agrigis runs in %s", len(done), folder)
    return done


def _newest_mtime(folder: Path) -> float:
    """The last time anything in ``folder`` (the folder itself included) was written."""
    newest = folder.stat().st_mtime
    for root, dirs, files in os.walk(folder):
        for n in dirs + files:
            with suppress(OSError):  # removed while we walk: nothing newer there
                newest = max(newest, os.stat(os.path.join(root, n), follow_symlinks=False).st_mtime)
    return newest


def _recover(tmp: Path, out: Path) -> bool:
    """Finish a publish that was killed between its renames; True if ``tmp`` held one
    (False: no manifest, or its process is still running)."""
    try:
        manifest = json.loads((tmp / _MANIFEST).read_text(encoding="utf-8"))
        files, pid = manifest["files"], int(manifest["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if _alive(pid):
        return False
    back = all(f["kept"] or not f["existed"] for f in files)
    for f in files:
        n = f["name"]
        target, staged = out / n, tmp / n
        if staged.exists():  # not moved yet
            if not back:
                os.replace(staged, target)
            continue
        if not back or not target.is_file() or _inode(target) != list(f["ino"]):
            continue  # rolled forward, or replaced since: leave the newer file alone
        if f["kept"]:
            os.replace(tmp / _PREVIOUS / n, target)
        else:
            os.unlink(target)
    log.warning("%s: an agrigis run was killed while publishing %s; %s", out, ", ".join(f["name"] for f in files),
                "the previous files are restored" if back else "the new files are completed")
    return True


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (this one: a publish of another
    thread is under way)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but belongs to someone else
        return True
    return True


@contextmanager
def staged_outputs(out_dir: str | os.PathLike[str], names: Iterable[str]) -> Iterator[Path]:
    """Write several output files together: all of them, or none.

    Yields a temporary folder inside ``out_dir``; write every file of ``names`` there.
    When the block ends without an error the files are moved into ``out_dir`` (each
    move is atomic, and if one fails the ones already moved are put back); on an error
    nothing in ``out_dir`` changes, and the error names the file in ``out_dir`` (never
    the temporary one). The temporary folder is always removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with staged_outputs(d, ["a.txt"]) as tmp:
    ...     _ = (tmp / "a.txt").write_text("ok")
    >>> sorted(p.name for p in d.iterdir())
    ['a.txt']
    """
    out = Path(out_dir)
    names = list(names)
    _make_folder(out)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=out))
    except OSError as exc:
        raise output_error(out, exc) from None
    try:
        try:
            yield tmp
        except Exception as exc:  # noqa: BLE001 - storage faults are mapped, anything else re-raised
            err = _staged_fail(exc, tmp, out)
            if err is exc:
                raise
            raise err from None
        _publish(tmp, out, names)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------ tables


@dataclass
class Sheet:
    """One table of a report.

    ``formats`` maps a column to an Excel number format (``"0.00"``, ``"#,##0.0"`` …);
    ``notes`` are lines written under the table (e.g. the synthetic-data warning).
    """

    name: str
    df: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    notes: Sequence[str] = ()
    title: str = ""


def _width(values: Iterable[object]) -> int:
    w = 4
    for v in values:
        s = "" if v is None else str(v)
        w = max(w, sum(2 if ord(ch) > 0x2E80 else 1 for ch in s))
    return min(w + 2, 60)


def _sheet_name(name: str) -> str:
    bad = '[]:*?/\\'
    return "".join("_" if ch in bad else ch for ch in safe_text(name))[:31]


def cell_value(v: Any) -> Any:
    """A value as an Excel cell takes it: NumPy scalars as Python ones, missing as empty,
    texts without control characters; lists and other objects as their text."""
    if v is None:
        return None
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        with suppress(ValueError, AttributeError):  # a many-element array stays itself
            v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, str):
        return safe_text(v)
    if isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, (list, tuple, dict, set, bytes)):
        return safe_text(str(v))
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(v, "isoformat"):
        return v
    return safe_text(str(v))


UNIT_DECIMALS = ((("万亩", "10k mu"), 4), (("亩", "(mu", " mu)", " mu,"), 2), (("%",), 1))
"""Decimals of a user-facing figure by the unit its column header names (first match wins:
万亩 before 亩). Headers carry their unit by convention (``已完成(万亩)``, ``Area (mu)``,
``完成率(%)``)."""


def unit_decimals(header: object) -> int | None:
    """Decimals a column's figures are shown with, from the unit in its ``header``; None
    when it names none of 万亩, 亩, % (the figures are written as they are).

    Examples
    --------
    >>> unit_decimals("目标(万亩)"), unit_decimals("Area (mu)"), unit_decimals("完成率(%)"), unit_decimals("年度")
    (4, 2, 1, None)
    """
    text = str(header)
    for marks, decimals in UNIT_DECIMALS:
        if any(m in text for m in marks):
            return decimals
    return None


def tidy_numbers(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the figures of every column whose header names a unit rounded to that
    unit's precision (万亩 4 decimals, 亩 2, % 1): no ``9.999999999999998`` in a report.

    The one rounding step of user-facing tables (:func:`write_csv`, :func:`write_excel`);
    GeoPackages and NetCDF keep full precision. Text, whole numbers and other columns
    are left as they are.

    Examples
    --------
    >>> t = tidy_numbers(pd.DataFrame({"目标(万亩)": [9.999999999999998], "面积(亩)": [22.999999999999996],
    ...                                "完成率(%)": [33.33333], "n": [0.123456]}))
    >>> t.iloc[0].tolist()
    [10.0, 23.0, 33.3, 0.123456]
    """
    out = None
    for j, c in enumerate(df.columns):
        d = unit_decimals(c)
        col = df.iloc[:, j]
        if d is None or col.dtype.kind in "iub" or not (col.dtype.kind == "f" or col.dtype == object):
            continue
        out = df.copy() if out is None else out
        if col.dtype.kind == "f":
            out.iloc[:, j] = col.round(d)
        else:
            out.iloc[:, j] = col.map(lambda v, d=d: round(v, d) if isinstance(v, float) and math.isfinite(v) else v)
    return df if out is None else out


def write_excel(path: str | os.PathLike[str], sheets: Sequence[Sheet], footer: str = "") -> Path:
    """Write ``sheets`` to one .xlsx: bold shaded header, frozen header row, column widths,
    number formats, notes under each table and ``footer`` in the printed page footer.

    Numbers stay numbers (never text), so Excel can sum and chart them; every text is
    stored as text, so no cell is ever a formula. Rows are streamed (openpyxl's
    write-only mode): a table of 10,000 rows costs no cell objects kept in memory.

    Examples
    --------
    >>> import tempfile, openpyxl
    >>> p = write_excel(Path(tempfile.mkdtemp()) / "t.xlsx",
    ...                 [Sheet("t", pd.DataFrame({"面积(亩)": [1.004], "备注": ["=1+1"]}), formats={"面积(亩)": "0.00"})])
    >>> ws = openpyxl.load_workbook(p)["t"]
    >>> ws["A2"].value, ws["A2"].number_format, ws["B2"].value, ws.freeze_panes
    (1, '0.00', '=1+1', 'A2')
    """
    from openpyxl import Workbook

    def write(tmp: Path) -> None:
        wb = Workbook(write_only=True)
        for given in sheets:
            _write_sheet(wb, Sheet(given.name, tidy_numbers(given.df), given.formats, given.notes, given.title),
                         footer)
        buf = io.BytesIO()  # a full disk then fails one plain write, not openpyxl's open zip file
        wb.save(buf)
        tmp.write_bytes(buf.getvalue())

    return atomic_write(Path(path), write)


def _write_sheet(wb: Any, sh: Sheet, footer: str) -> None:
    """One sheet of :func:`write_excel` into the write-only workbook ``wb``: widths, frozen
    panes and footer first (a streamed sheet takes them only before its rows), then the
    title, header, rows and notes."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(_sheet_name(sh.name))
    cols = list(sh.df.columns)
    row0 = 2 if sh.title else 1
    for j, c in enumerate(cols, start=1):
        ws.column_dimensions[get_column_letter(j)].width = _width([c, *sh.df[c].head(200).tolist()])
    ws.freeze_panes = f"A{row0 + 1}"
    if footer:
        ws.oddFooter.center.text = safe_text(footer).replace("&", "&&")

    def styled(value: Any, **style: Any) -> Any:
        cell = WriteOnlyCell(ws, value=cell_value(value))
        if isinstance(cell.value, str):
            cell.data_type = "s"
        for k, v in style.items():
            setattr(cell, k, v)
        return cell

    if sh.title:
        ws.append([styled(sh.title, font=Font(bold=True, size=13))])
    head = {"font": Font(bold=True), "fill": PatternFill("solid", fgColor="DDEBF7"),
            "alignment": Alignment(wrap_text=True, vertical="center")}
    ws.append([styled(str(c), **head) for c in cols])
    fmts = [sh.formats.get(c) for c in cols]
    for rec in sh.df.itertuples(index=False):
        ws.append([_streamed(cell_value(v), fmt, styled) for v, fmt in zip(rec, fmts, strict=True)])
    if sh.notes:
        ws.append([])
    for note in sh.notes:
        ws.append([styled(note, font=Font(italic=True, color="C00000"))])


def _streamed(value: Any, fmt: str | None, styled: Callable[..., Any]) -> Any:
    """A table value as a streamed sheet takes it: a plain value, or a cell when it needs
    a number format or is a text that looks like a formula (typed as text: shown, never run)."""
    if isinstance(value, str) and value.startswith("="):
        return styled(value)
    if fmt is not None and isinstance(value, (int, float)):
        return styled(value, number_format=fmt)
    return value


def write_csv(path: str | os.PathLike[str], df: pd.DataFrame, note: str = "", *, index: bool = False) -> Path:
    """CSV in UTF-8 with a byte-order mark, so Excel on Windows shows Chinese correctly.

    Text cells go through :func:`csv_text` (no control characters, formula-looking
    values prefixed with ``'``); figures go through :func:`tidy_numbers` (rounded to
    their unit's precision). ``note`` (e.g. the synthetic-data notice) is written as a
    last line starting with ``#``, so a person opening the file sees it;
    ``pd.read_csv(path, comment="#")`` skips it.
    """
    safe = csv_frame(tidy_numbers(df.reset_index() if index else df))

    def write(tmp: Path) -> None:
        safe.to_csv(tmp, index=False, encoding="utf-8-sig")
        if note:
            with open(tmp, "a", encoding="utf-8") as f:
                f.write(f"# {safe_text(note)}\n")

    return atomic_write(Path(path), write)
