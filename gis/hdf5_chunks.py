"""The stored chunks of an HDF5 (NetCDF-4) variable, decoded on every core.

HDF5 runs its filters (deflate, shuffle) inside one global lock, so a compressed NetCDF
read through h5py or xarray decodes on one core whatever the number of threads asking.
:class:`StoredChunks` reads each chunk's bytes as stored (h5py's ``read_direct_chunk``,
a short read under the lock) and undoes the filters itself: zlib-ng's inflate (which
releases the GIL and is about 2.5 times as fast as zlib's on these files) and the
shuffle (:func:`_unshuffle`), into work arrays each thread reuses (fresh memory costs a
page fault per 4 KiB). The chunks of a read then decode on a pool's threads, each copied
straight into its place in the caller's array. Only the filters NetCDF-4 writers use
are undone here (deflate, shuffle); an unfiltered variable is read fastest by HDF5
itself, straight into the array, and so is one with any other filter (fletcher32,
szip, a plugin): :meth:`StoredChunks.of` gives None for both.

Imports gis only.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from .errors import DataFileError

__all__ = ["StoredChunks"]

_DEFLATE, _SHUFFLE = 1, 2  # HDF5's filter ids (H5Z_FILTER_DEFLATE, H5Z_FILTER_SHUFFLE)


class StoredChunks:
    """How to decode one chunked HDF5 dataset's chunks without HDF5's filter pipeline.

    Examples
    --------
    >>> import tempfile, pathlib, h5py, numpy as np
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.h5"
    >>> with h5py.File(p, "w") as f:
    ...     _ = f.create_dataset("v", data=np.arange(60, dtype="f4").reshape(3, 4, 5),
    ...                          chunks=(1, 2, 5), compression="gzip", shuffle=True)
    >>> f = h5py.File(p, "r")
    >>> out = np.zeros((2, 3, 5), "f4")
    >>> StoredChunks.of(f["v"]).read_into(out, (slice(1, 3), slice(1, 4), slice(0, 5)))
    >>> bool((out == f["v"][1:3, 1:4, :]).all())
    True
    >>> f.close()
    """

    def __init__(self, h5ds: Any, filters: Sequence[int]) -> None:
        self._ds, self._id = h5ds, h5ds.id
        self.filters = tuple(filters)  # in the order HDF5 applied them when writing
        self.chunk: tuple[int, ...] = tuple(h5ds.chunks)
        self.dtype: np.dtype[Any] = h5ds.dtype  # as stored (the file's byte order)
        self.nbytes = int(np.prod(self.chunk)) * self.dtype.itemsize
        self._local = threading.local()  # each thread's work array

    @classmethod
    def of(cls, h5ds: Any) -> StoredChunks | None:
        """The chunks of ``h5ds`` when this module can decode them and HDF5 would decode
        them on one core (a chunked dataset of numbers, compressed by deflate, maybe
        shuffled first); else None."""
        import h5py

        plist = h5ds.id.get_create_plist()
        if plist.get_layout() != h5py.h5d.CHUNKED or h5ds.dtype.kind not in "iuf" \
                or h5ds.dtype.itemsize not in (1, 2, 4, 8):  # not long doubles
            return None
        filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
        if filters not in ([_DEFLATE], [_SHUFFLE, _DEFLATE]):
            return None
        return cls(h5ds, filters)

    def read_into(self, out: npt.NDArray[Any], sel: Sequence[slice], pool: Executor | None = None) -> None:
        """``out[...] = dataset[sel]``: ``sel`` a slice with step 1 on every dimension,
        ``out`` of its shape. Every chunk the selection reaches is decoded once, on the
        threads of ``pool`` when given, and copied straight into its place."""
        bounds = [(s.start or 0, s.stop) for s in sel]
        origins = list(itertools.product(*(range(a // c * c, b, c) for (a, b), c in
                                           zip(bounds, self.chunk, strict=True))))

        def place(origin: tuple[int, ...]) -> None:
            have, want = [], []
            for o, c, (a, b) in zip(origin, self.chunk, bounds, strict=True):
                lo, hi = max(o, a), min(o + c, b)
                have.append(slice(lo - o, hi - o))
                want.append(slice(lo - a, hi - a))
            try:
                chunk = self._decoded(origin)
            except DataFileError as ours:  # HDF5 may still read it (a layout we do not know of)
                chunk = None
                try:
                    self._ds[tuple(slice(o, o + 1) for o in origin)]
                except OSError:
                    raise ours from None
            if chunk is None:  # never written (HDF5 gives its fill value), or read by HDF5
                out[tuple(want)] = self._ds[tuple(slice(w.start + a, w.stop + a) for w, (a, _) in
                                                  zip(want, bounds, strict=True))]
            else:
                out[tuple(want)] = chunk[tuple(have)]

        if pool is None or len(origins) < 2:
            for origin in origins:
                place(origin)
        else:
            for _ in pool.map(place, origins):
                pass

    def _decoded(self, origin: tuple[int, ...]) -> npt.NDArray[Any] | None:
        """The chunk at ``origin`` as an array of the chunk's shape (edge chunks are
        stored whole; a view of this thread's work array when shuffled), or None for a
        chunk the file never stored."""
        from zlib_ng import zlib_ng

        info = self._id.get_chunk_info_by_coord(origin)
        if info.byte_offset is None:
            return None
        mask, data = self._id.read_direct_chunk(origin, out=self._work("stored", info.size))
        try:
            for i in reversed(range(len(self.filters))):
                if mask >> i & 1:  # HDF5 skipped this (optional) filter for the chunk
                    continue
                if self.filters[i] == _DEFLATE:
                    data = zlib_ng.decompress(data, bufsize=self.nbytes)
                elif len(data) == self.nbytes:
                    data = _unshuffle(data, self.dtype.itemsize, self._work("decoded", self.nbytes))
        except (cast("type[Exception]", zlib_ng.error), ValueError) as exc:  # untyped module
            detail: Any = exc
        else:
            if len(data) == self.nbytes:
                return np.frombuffer(data, self.dtype).reshape(self.chunk)
            detail = f"{len(data)} bytes, not {self.nbytes}"
        raise DataFileError.of("error.hdf5_chunk_damaged", path=self._ds.file.filename,
                               variable=self._ds.name.lstrip("/"), origin=list(origin), detail=detail)

    def _work(self, name: str, size: int) -> npt.NDArray[np.uint8]:
        """This thread's work array ``name``, at least ``size`` bytes long (its first
        ``size`` bytes)."""
        work: npt.NDArray[np.uint8] | None = getattr(self._local, name, None)
        if work is None or len(work) < size:
            work = np.empty(max(size, self.nbytes), np.uint8)
            setattr(self._local, name, work)
        return work[:size]


def _unshuffle(data: Any, itemsize: int, out: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """HDF5's shuffle undone: ``data`` holds byte 0 of every element, then byte 1 …;
    ``out`` gets the elements' bytes back in order (and is returned). Whole-array shifts
    of little-endian words rebuild the bytes as they were, whatever the elements' own
    byte order: 0.12 s per 432 MB here, numcodecs' Shuffle 0.16 s (and 0.12 s to import).

    >>> b = np.arange(8, dtype="<u2").view(np.uint8)          # 0 0 1 0 2 0 … 7 0
    >>> s = b.reshape(-1, 2).T.copy()                          # shuffled: 0 1 … 7, 0 … 0
    >>> _unshuffle(s, 2, np.empty(16, np.uint8)).view("<u2").tolist()
    [0, 1, 2, 3, 4, 5, 6, 7]
    """
    planes = np.frombuffer(data, np.uint8).reshape(itemsize, -1)
    if itemsize == 1:
        out[:] = planes[0]
        return out
    words = out.view(f"<u{itemsize}")
    np.copyto(words, planes[-1])
    for plane in planes[-2::-1]:
        words <<= 8
        words |= plane
    return out
