"""The GeoPackage registry's indexes on ``projects(batch_id)`` and ``projects(closed_by)``
(partial: only closed versions), as the PostGIS registry has them: a new registry is
created with them, an older one gets them when opened for writing, and ``undo`` searches
through them (its real SQL, :data:`~layers.registry.geopackage.UNDO_SQL`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gis.errors import RegistryError
from layers.registry import Registry
from layers.registry.geopackage import UNDO_SQL
from test_registry import rows, snapshot

UNDO_INDEX = {"later": "projects_batch", "delete": "projects_batch", "reopen": "projects_closed_by"}
"""The index each statement of an undo searches."""


def indexes(path: Path) -> dict[str, str]:
    """Name → SQL of the indexes of ``projects`` (the automatic ones have no SQL)."""
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'projects'"))
    finally:
        con.close()


def drop_undo_indexes(path: Path) -> None:
    """Make ``path`` a registry of an agrigis without these indexes (as it wrote them)."""
    con = sqlite3.connect(path)
    with con:
        con.execute("DROP INDEX projects_batch")
        con.execute("DROP INDEX projects_closed_by")
    con.close()


def undo_plans(reg: Registry) -> dict[str, str]:
    """``EXPLAIN QUERY PLAN`` of each statement an undo runs, on the registry's own connection."""
    with reg.transaction() as tx:
        return {k: " ".join(r[3] for r in tx.execute(f"EXPLAIN QUERY PLAN {sql}", ("b",)))
                for k, sql in UNDO_SQL.items()}


def two_batches(path: Path):
    """40 parcels, then a batch that updates 10 of them and adds 5: the registry, the
    contents before the second batch, both batches."""
    reg = Registry(path)
    codes = [f"P{i:02d}" for i in range(40)]
    first = reg.write(rows(codes), source="a.shp", sha256="a" * 64)
    before = snapshot(path)
    again = rows([*codes[:10], *(f"N{i}" for i in range(5))], status="completed")
    second = reg.write(again, source="b.shp", sha256="b" * 64, update=True)
    assert (second.n_new, second.n_updated) == (5, 10)
    return reg, before, first, second


def test_a_new_registry_has_the_batch_and_closed_by_indexes(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    got = indexes(reg.path)
    assert set(got) == {"projects_current_code", "projects_batch", "projects_closed_by"}
    assert got["projects_batch"].endswith("ON projects(batch_id)")
    assert got["projects_closed_by"].endswith("ON projects(closed_by) WHERE closed_by IS NOT NULL")
    plans = undo_plans(reg)
    for stmt, index in UNDO_INDEX.items():
        assert plans[stmt].startswith("SEARCH projects USING ") and f"INDEX {index} " in plans[stmt], plans[stmt]


def test_undo_searches_the_indexes_and_restores_the_registry_exactly(tmp_path):
    reg, before, first, second = two_batches(tmp_path / "r.gpkg")
    assert reg.projects(include_history=True)["closed_by"].notna().sum() == 10  # the replaced versions
    plans = undo_plans(reg)
    assert all(f"INDEX {UNDO_INDEX[k]} " in p for k, p in plans.items()), plans
    with pytest.raises(RegistryError, match=f"later batch\\(es\\) {second.batch_id} replaced"):
        reg.undo(first.batch_id)  # the "later" lookup, through the batch index
    assert reg.undo(second.batch_id) == (15, 10)
    assert snapshot(reg.path) == before
    assert set(reg.batches().set_index("batch_id")["status"].items()) == {
        (first.batch_id, "active"), (second.batch_id, "undone")}


def test_an_old_registry_without_them_gets_them_when_opened_and_undoes_the_same(tmp_path):
    reg, before, _, second = two_batches(tmp_path / "old.gpkg")
    drop_undo_indexes(reg.path)
    assert set(indexes(reg.path)) == {"projects_current_code"}
    plans = undo_plans(reg)  # the old file, as an earlier agrigis left it: every undo scans
    assert all(p.startswith("SCAN projects") for p in plans.values()), plans
    reopened = Registry(reg.path)  # opened as projects_code is added: the two indexes come back
    assert set(indexes(reg.path)) == {"projects_current_code", "projects_batch", "projects_closed_by"}
    assert indexes(reg.path)["projects_closed_by"].endswith("WHERE closed_by IS NOT NULL")
    assert all(f"INDEX {UNDO_INDEX[k]} " in p for k, p in undo_plans(reopened).items())
    assert reopened.undo(second.batch_id) == (15, 10)
    assert snapshot(reg.path) == before
    assert len(Registry(reg.path).projects()) == 40  # opened again: nothing more to do


def test_only_the_missing_index_is_added(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    con = sqlite3.connect(reg.path)
    with con:  # a registry someone indexed by hand: any index starting with the column serves
        con.execute("DROP INDEX projects_batch")
        con.execute("DROP INDEX projects_closed_by")
        con.execute("CREATE INDEX my_batch ON projects(batch_id, fid)")
    con.close()
    Registry(reg.path)
    assert set(indexes(reg.path)) == {"projects_current_code", "my_batch", "projects_closed_by"}


def test_a_read_only_old_registry_is_read_without_them(small_disk):
    d = small_disk("4m")
    reg, _, _, _ = two_batches(d.path / "old.gpkg")
    drop_undo_indexes(reg.path)
    d.read_only(True)
    try:
        legacy = Registry(reg.path)  # cannot be indexed: read as it is
        assert len(legacy.projects(include_history=True)) == 55 and len(legacy.projects()) == 45
        assert set(indexes(reg.path)) == {"projects_current_code"}
    finally:
        d.read_only(False)
    Registry(reg.path)
    assert set(indexes(reg.path)) == {"projects_current_code", "projects_batch", "projects_closed_by"}


def test_an_old_registry_is_read_while_another_process_writes(tmp_path):
    """Adding the missing indexes needs the write lock: while another connection holds
    it, the registry opens and reads as it is, and gets its indexes on a later open."""
    path = tmp_path / "r.gpkg"
    reg, _, _, _ = two_batches(path)
    n = len(reg.projects())
    drop_undo_indexes(path)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        busy = Registry(path, timeout=0.2)
        assert len(busy.projects()) == n
        assert "projects_batch" not in indexes(path)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    Registry(path)
    assert {"projects_batch", "projects_closed_by"} <= set(indexes(path))
