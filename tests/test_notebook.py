"""notebooks/zonal_statistics.ipynb runs top to bottom (nbclient, a real kernel)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_zonal_statistics_notebook_runs(tmp_path):
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "notebooks" / "zonal_statistics.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = {i: "".join(o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
                          for o in c.get("outputs", []))
               for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    text = "\n".join(outputs.values())
    assert "largest relative difference: 0.0\n" in text  # class areas add up to the parcel
    assert "correlation of July NDVI with mean EC: -" in text  # salinity lowers NDVI
    assert "<Coverage exact: 40 zones" in text
