"""The notebooks run top to bottom, offline, on the public API; a notebook that breaks fails CI."""

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted(Path(__file__).parent.parent.joinpath("notebooks").glob("*.ipynb"))


def test_five_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart_stocks.ipynb", "02_sensor_multivariate.ipynb",
                                           "03_inside_the_rnn_family.ipynb", "04_many_series.ipynb",
                                           "05_future_features.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # committed clean
    started = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    seconds = time.perf_counter() - started
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    figures = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert figures, "each notebook shows at least one figure inline"
    print(f"{path.name}: {seconds:.0f} s")
