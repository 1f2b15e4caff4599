"""gis.hdf5_chunks: an HDF5 dataset's compressed chunks decoded by us, on every core,
give exactly what HDF5's own filter pipeline gives — every dtype and byte order, edge
chunks, chunks never written, chunks HDF5 stored unfiltered — and a damaged chunk is
named, not guessed at."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
import pytest

from gis.errors import DataFileError
from gis.hdf5_chunks import StoredChunks

SHAPE, CHUNKS = (5, 37, 53), (2, 10, 16)  # edge chunks in every dimension


def _dataset(path, dtype, **opts):
    rng = np.random.default_rng(3)
    data = (rng.normal(size=SHAPE) * 1000).astype(dtype)
    with h5py.File(path, "w") as f:
        f.create_dataset("v", data=data, chunks=CHUNKS, **opts)
    return data


SELECTIONS = [
    (slice(0, 5), slice(0, 37), slice(0, 53)),  # all
    (slice(1, 4), slice(9, 31), slice(0, 53)),  # cuts chunks in time and rows
    (slice(4, 5), slice(30, 37), slice(17, 40)),  # the last edge chunk, columns cut
]


@pytest.mark.parametrize("dtype", ["<f4", ">f4", "<i2", ">f8", "u1", "<u4"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_chunks_decode_to_what_hdf5_reads(tmp_path, dtype, shuffle):
    p = tmp_path / "d.h5"
    data = _dataset(p, dtype, compression="gzip", compression_opts=4, shuffle=shuffle)
    with h5py.File(p, "r") as f, ThreadPoolExecutor(2) as pool:
        chunks = StoredChunks.of(f["v"])
        assert chunks is not None and chunks.dtype == np.dtype(dtype)
        for sel in SELECTIONS:
            for p_ in (None, pool):
                out = np.full([s.stop - s.start for s in sel], 9, dtype=np.dtype(dtype).newbyteorder("="))
                chunks.read_into(out, sel, p_)
                np.testing.assert_array_equal(out, data[sel])
                np.testing.assert_array_equal(out, f["v"][sel])


def test_a_chunk_never_written_gives_the_fill_value(tmp_path):
    p = tmp_path / "sparse.h5"
    with h5py.File(p, "w") as f:
        ds = f.create_dataset("v", shape=SHAPE, dtype="f4", chunks=CHUNKS, compression="gzip",
                              shuffle=True, fillvalue=-9999.0)
        ds[0:2, 0:10, 0:16] = 7.0  # one chunk stored, the rest never written
    with h5py.File(p, "r") as f:
        out = np.zeros((2, 20, 32), "f4")
        StoredChunks.of(f["v"]).read_into(out, (slice(0, 2), slice(0, 20), slice(0, 32)))
        assert (out[:, :10, :16] == 7).all() and (out[:, 10:, :] == -9999).all()
        assert (out[:, :, 16:] == -9999).all()


def test_a_chunk_hdf5_stored_without_a_filter_is_read_as_stored(tmp_path):
    """HDF5's deflate is an optional filter: a chunk it did not shrink is stored raw,
    with the filter's bit set in the chunk's mask."""
    p = tmp_path / "mask.h5"
    data = _dataset(p, "<f4", compression="gzip", shuffle=True)
    raw = data[0:2, 0:10, 0:16] + 1
    with h5py.File(p, "r+") as f:  # shuffled, not deflated: mask bit 1 (the 2nd filter)
        shuffled = raw.view(np.uint8).reshape(-1, 4).T.copy()
        f["v"].id.write_direct_chunk((0, 0, 0), shuffled.tobytes(), filter_mask=0b10)
    with h5py.File(p, "r") as f:
        out = np.zeros(SHAPE, "f4")
        StoredChunks.of(f["v"]).read_into(out, tuple(slice(0, n) for n in SHAPE))
        np.testing.assert_array_equal(out[0:2, 0:10, 0:16], raw)
        np.testing.assert_array_equal(out, f["v"][:])


def test_only_deflate_and_shuffle_are_decoded_here(tmp_path):
    """Unfiltered (HDF5 reads it straight into the array), contiguous, other filters:
    HDF5 reads them itself."""
    p = tmp_path / "others.h5"
    with h5py.File(p, "w") as f:
        d = np.ones(SHAPE, "f4")
        f.create_dataset("plain", data=d, chunks=CHUNKS)
        f.create_dataset("contiguous", data=d)
        f.create_dataset("lzf", data=d, chunks=CHUNKS, compression="lzf")
        f.create_dataset("checksummed", data=d, chunks=CHUNKS, compression="gzip", fletcher32=True)
        f.create_dataset("shuffle_only", data=d, chunks=CHUNKS, shuffle=True)
        f.create_dataset("text", data=np.array([b"a", b"b"]), chunks=(1,), compression="gzip")
        f.create_dataset("gzip", data=d, chunks=CHUNKS, compression="gzip")
        f.create_dataset("long_double", data=d.astype(np.longdouble), chunks=CHUNKS, compression="gzip")
    with h5py.File(p, "r") as f:
        assert {k: StoredChunks.of(f[k]) is not None for k in f} == {
            "plain": False, "contiguous": False, "lzf": False, "checksummed": False,
            "shuffle_only": False, "text": False, "gzip": True,
            "long_double": np.dtype(np.longdouble).itemsize <= 8}  # no 16-byte words to unshuffle


def test_a_chunk_hdf5_reads_but_we_cannot_is_read_by_hdf5(tmp_path, monkeypatch):
    """HDF5 has chunk layouts this module does not know (an unfiltered partial edge
    chunk, say): a chunk we cannot decode but HDF5 can is read by HDF5, not called
    damaged. (Our decoder is made to fail on one chunk: HDF5 writes no such file by
    default.)"""
    p = tmp_path / "fallback.h5"
    data = _dataset(p, "<f4", compression="gzip", shuffle=True)
    real = StoredChunks._decoded

    def fails_once(self, origin):
        if origin == (4, 30, 48):
            raise DataFileError("not a layout we know")
        return real(self, origin)

    monkeypatch.setattr(StoredChunks, "_decoded", fails_once)
    with h5py.File(p, "r") as f:
        out = np.zeros(SHAPE, "f4")
        StoredChunks.of(f["v"]).read_into(out, tuple(slice(0, n) for n in SHAPE))
    np.testing.assert_array_equal(out, data)


def test_a_damaged_chunk_names_the_file_variable_and_chunk(tmp_path):
    p = tmp_path / "damaged.h5"
    _dataset(p, "<f4", compression="gzip", shuffle=True)
    with h5py.File(p, "r") as f:
        info = f["v"].id.get_chunk_info_by_coord((2, 10, 16))
    with open(p, "r+b") as fh:  # overwrite the middle of one chunk's stored bytes
        fh.seek(info.byte_offset + info.size // 2)
        fh.write(b"\xff" * 64)
    with h5py.File(p, "r") as f:
        out = np.zeros(SHAPE, "f4")
        with pytest.raises(DataFileError) as e:
            StoredChunks.of(f["v"]).read_into(out, tuple(slice(0, n) for n in SHAPE))
    msg = str(e.value)
    assert "damaged.h5" in msg and "variable v" in msg and "[2, 10, 16]" in msg, msg
