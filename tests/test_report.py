"""workflows.report: outputs land together or not at all."""

from __future__ import annotations

import pytest

from gis.errors import DataFileError
from gis.outputs import staged_outputs


def test_a_failed_job_leaves_the_previous_outputs_exactly_as_they_were(tmp_path):
    (tmp_path / "a.csv").write_text("old a")
    (tmp_path / "b.gpkg").write_text("old b")
    with pytest.raises(RuntimeError, match="disk full"):
        with staged_outputs(tmp_path, ["a.csv", "b.gpkg"]) as tmp:
            (tmp / "a.csv").write_text("new a")
            raise RuntimeError("disk full")  # the second file never gets written
    assert (tmp_path / "a.csv").read_text() == "old a"
    assert (tmp_path / "b.gpkg").read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.gpkg"]  # no temporary left


def test_all_outputs_replace_the_old_ones(tmp_path):
    (tmp_path / "a.csv").write_text("old a")
    with staged_outputs(tmp_path, ["a.csv", "c.txt"]) as tmp:
        (tmp / "a.csv").write_text("new a")
        (tmp / "c.txt").write_text("c")
    assert (tmp_path / "a.csv").read_text() == "new a" and (tmp_path / "c.txt").read_text() == "c"


def test_an_output_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(DataFileError, match="cannot create the output folder"):
        with staged_outputs(tmp_path / "file" / "out", ["a.csv"]):
            pass


def test_csv_note_is_the_last_line_and_readers_can_skip_it(tmp_path):
    import pandas as pd

    from gis.outputs import write_csv

    df = pd.DataFrame({"项目": ["甲", "乙"], "面积(亩)": [1.5, 2.0]})
    path = write_csv(tmp_path / "t.csv", df, note="演示数据(合成,非真实)")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[-1] == "# 演示数据(合成,非真实)" and len(lines) == 4
    back = pd.read_csv(path, encoding="utf-8-sig", comment="#")
    assert back["面积(亩)"].tolist() == [1.5, 2.0]
