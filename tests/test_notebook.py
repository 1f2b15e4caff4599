"""The analysts' notebooks run top to bottom (nbclient, a real kernel) and print what they say."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_notebook(name: str, folder: Path, timeout: int) -> str:
    """Execute ``notebooks/<name>`` in ``folder``; the text of every code cell's outputs.
    Fails on any cell error."""
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})
    client.execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    return "\n".join("".join(o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
                             for o in c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")


def test_zonal_statistics_notebook_runs(tmp_path):
    text = run_notebook("zonal_statistics.ipynb", tmp_path, timeout=120)
    assert "largest relative difference: 0.0\n" in text  # class areas add up to the parcel
    assert "correlation of July NDVI with mean EC: -" in text  # salinity lowers NDVI
    assert "<Coverage exact: 40 zones" in text


def test_imagery_notebook_runs(tmp_path):
    text = run_notebook("imagery.ipynb", tmp_path, timeout=180)
    assert "12 products; ['SYN-RISE', 'SYN-FLAT', 'SYN-CLOUD', 'SYN-FALL']" in text
    assert "lazy: True" in text and "valid observations per cell, 2020: [1, 2]" in text
    assert "all as planted: True" in text
    assert "2019-05-01" in text and "04.00" in text
