"""A folder scan reads each ``.json`` once: the STAC files found while listing the folder
are handed on parsed, and what the scan finds, skips and ignores is as before. Opens are
counted by a real audit hook (Python's ``open`` event), not a mock. And the one pattern
of ``MSK_CLDPRB`` file names, shared by the ``.SAFE`` reader and STAC items."""

from __future__ import annotations

import collections
import json
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import SHARED, SHARED_MISSING
from test_stac import _same_product, _write, ls_item, s2_item

from layers.imagery import from_stac, scan

pytestmark = pytest.mark.skipif(SHARED is None, reason=SHARED_MISSING)

_COUNTERS: list[tuple[Path, collections.Counter]] = []
"""The folders whose files are being counted, and their counters (see :func:`count_opens`)."""


def _on_audit(event: str, args: tuple) -> None:
    if event != "open" or not _COUNTERS or not isinstance(args[0], (str, Path)):
        return
    path = Path(args[0])
    for folder, counter in _COUNTERS:
        if path.parent == folder:
            counter[path.name] += 1


@contextmanager
def count_opens(folder: Path):
    """A Counter of the opens of each file directly in ``folder`` while the block runs
    (the audit hook is installed once per process: audit hooks cannot be removed)."""
    if not getattr(sys, "_agrigis_open_counter", False):
        sys.addaudithook(_on_audit)
        sys._agrigis_open_counter = True  # type: ignore[attr-defined]
    counter: collections.Counter = collections.Counter()
    _COUNTERS.append((folder, counter))
    try:
        yield counter
    finally:
        _COUNTERS.remove((folder, counter))


def test_each_json_of_a_folder_is_read_once_and_the_scan_finds_the_same(tmp_path):
    coll = _write(tmp_path / "items.json", {"type": "FeatureCollection", "features": [s2_item(tmp_path),
                                                                                      ls_item(tmp_path)]})
    _write(tmp_path / "notes.json", {"not": "stac"})  # not STAC: ignored, as before
    (tmp_path / "broken.json").write_text('{"type": "Feature", ', encoding="utf-8")  # not JSON: ignored
    _write(tmp_path / "odd.json", {"type": "FeatureCollection", "features": 5})  # features not a list: ignored
    _write(tmp_path / "catalog.json", {"type": "Catalog", "stac_version": "1.0.0", "id": "c", "links": []})
    with count_opens(tmp_path) as opened:
        found = scan([tmp_path])
    assert opened == {"items.json": 1, "notes.json": 1, "broken.json": 1, "odd.json": 1, "catalog.json": 1}
    want = sorted(from_stac(coll), key=lambda p: (p.time, p.id))
    assert [p.id for p in found.products] == [p.id for p in want] and len(want) == 2
    for got, ref in zip(found.products, want, strict=True):
        _same_product(got, ref)
        assert got.source == ref.source == coll
    # a STAC document that is no Item/ItemCollection is reported, the non-STAC files are not
    assert [(p.name, e.key) for p, e in found.skipped] == [("catalog.json", "error.stac_unreadable")]
    assert "type 'Catalog', expected 'Feature' or 'FeatureCollection'" in str(found.skipped[0][1])


def test_a_malformed_json_given_itself_is_read_once_and_reported(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"type": "Feature", ', encoding="utf-8")
    with count_opens(tmp_path) as opened:
        found = scan([bad])
    assert opened == {"broken.json": 1} and found.products == []
    assert [(p, e.key) for p, e in found.skipped] == [(bad, "error.stac_unreadable")]
    assert "broken.json: not a valid STAC item JSON" in str(found.skipped[0][1])
    one = _write(tmp_path / "one.json", s2_item(tmp_path))  # an Item given itself: read once too
    with count_opens(tmp_path) as opened:
        found = scan([one])
    assert opened == {"one.json": 1} and [p.tile for p in found.products] == ["29UNU"] and not found.skipped
    assert json.loads(one.read_text(encoding="utf-8"))["id"] == found.products[0].id


def test_one_cloud_probability_pattern_matches_the_real_names_in_any_case():
    """``stac.S2_CLDPRB`` is the ``.SAFE`` reader's pattern (one definition): it finds the
    real sample's files and the names its ``MTD_TL.xml`` lists, whatever their case."""
    import re

    from layers.imagery import sentinel2, stac

    assert stac.S2_CLDPRB is sentinel2.CLDPRB
    real = SHARED / "real-samples" / "sentinel2"
    tl = next(real.rglob("MTD_TL.xml")).read_text(encoding="utf-8")
    names = [p.name for p in real.rglob("MSK_CLDPRB_*")] + re.findall(r'type="MSK_CLDPRB">([^<]+)<', tl)
    sizes = sorted(int(m.group(1)) for n in names if (m := stac.S2_CLDPRB.search(n)))
    assert sizes == [20, 60, 60]  # the 60 m file present, the 20 m and 60 m ones MTD_TL.xml lists
    assert [int(stac.S2_CLDPRB.search(n.lower().replace(".jp2", ".JP2")).group(1)) for n in names] == \
           [int(stac.S2_CLDPRB.search(n).group(1)) for n in names]
