"""notebooks/imagery.ipynb runs top to bottom (nbclient, a real kernel): products →
stack → parcel trends, with the verdicts as planted in the SYNTHETIC products."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_imagery_notebook_runs(tmp_path):
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "notebooks" / "imagery.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    text = "\n".join("".join(o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
                             for o in c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")
    assert "12 products; ['SYN-RISE', 'SYN-FLAT', 'SYN-CLOUD', 'SYN-FALL']" in text
    assert "lazy: True" in text and "valid observations per cell, 2020: [1, 2]" in text
    assert "all as planted: True" in text
    assert "2019-05-01" in text and "04.00" in text
