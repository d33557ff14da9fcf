"""Every notebook runs top to bottom in a Jupyter kernel on one demo output, and plots.

The notebooks are jupytext percent-format files (``notebooks/*.py``); each is read with
jupytext and executed with nbclient, the way a user opening it in Jupyter would run it. The
kernel is this interpreter (the venv's), whatever ``python3`` kernelspec the machine has.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jupytext
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode
from typer.testing import CliRunner

from hutong.cli import app

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
CELL_TIMEOUT = 300  # seconds per cell: a generous bound on a busy two-core machine
# A few lines each notebook prints about the demo output (beside the notebook's own asserts).
PRINTS = {
    "demo_tour.py": ["converted", "SL-"],
    "qc_dashboard.py": ["cases / 病例", "main diagnosis coding accuracy", "SL-DX-01"],
    "drg_mix.py": ["ungroupable", "principal <code> is in no MDC", "全院"],
    "mapping_quality.py": ["occurrence_coverage", "reviewer.li", "close calls"],
}


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo output for all the notebooks of this module."""
    out = tmp_path_factory.mktemp("notebooks") / "demo"
    result = CliRunner().invoke(
        app, ["demo", "--out", str(out), "--samples", str(ROOT / "samples"), "-q"]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a ``python3`` kernelspec that starts this very interpreter."""
    folder = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(folder / "python3")
    return folder


def execute(notebook: Path, out: Path, kernels: Path, cwd: Path) -> NotebookNode:
    """Run every cell of ``notebook`` in a fresh kernel; raises on the first failing cell."""
    nb = jupytext.read(notebook)
    km = AsyncKernelManager(
        kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)])
    )
    client = NotebookClient(
        nb, km=km, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(cwd)}}
    )
    env = {
        **os.environ,
        "HUTONG_OUT": str(out),
        "HUTONG_SAMPLES": str(ROOT / "samples"),
        "IPYTHONDIR": str(cwd / ".ipython"),
    }
    env.pop("MPLBACKEND", None)  # an inherited Agg would stop the kernel's inline figures
    client.execute(env=env)
    return nb


def outputs(nb: NotebookNode) -> list[NotebookNode]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def test_the_kernel_is_this_interpreter(kernels):
    spec = KernelSpecManager(kernel_dirs=[str(kernels)]).get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_on_the_demo_output_and_plots(notebook, demo_out, kernels, tmp_path):
    nb = execute(notebook, demo_out, kernels, tmp_path)
    produced = outputs(nb)
    assert not [o for o in produced if o.output_type == "error"]
    images = [o for o in produced if "image/png" in o.get("data", {})]
    shows = sum(cell.source.count("plt.show()") for cell in nb.cells if cell.cell_type == "code")
    assert shows >= 1, "each notebook plots"
    assert len(images) == shows, "every plt.show() renders one figure"
    printed = "".join(o.text for o in produced if o.output_type == "stream" and o.name == "stdout")
    for line in PRINTS[notebook.name]:
        assert line in printed, line
    warned = "".join(o.text for o in produced if o.output_type == "stream" and o.name == "stderr")
    assert "missing from" not in warned, "a plot drew text its font has no glyph for"


def test_every_notebook_is_checked():
    assert {p.name for p in NOTEBOOKS} == set(PRINTS)
