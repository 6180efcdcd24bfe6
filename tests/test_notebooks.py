"""The planners' notebooks run top to bottom on a copy of the demo registry, in this
project's own interpreter, and are committed without outputs."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = ["01_quickstart.ipynb", "02_qingsiluan.ipynb", "03_targets.ipynb"]
CELL_TIMEOUT_S = 300


def execute(nb: nbformat.NotebookNode, workdir: Path) -> nbformat.NotebookNode:
    # "python3" is ipykernel's own kernel: jupyter_client starts it with sys.executable,
    # the interpreter running the tests (checked below), not whatever python is on PATH.
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    return client.execute()


@pytest.fixture(autouse=True)
def jupyter_runtime_in_tmp(tmp_path, monkeypatch):
    """Kernel connection files go to tmp_path, not the home folder."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))


@pytest.fixture
def notebook_env(demo_copy, tmp_path, monkeypatch) -> Path:
    """Point the notebooks at a private copy of the demo; they write only in tmp_path."""
    monkeypatch.setenv("HEHU_REGISTRY", str(demo_copy))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    work = tmp_path / "work"
    work.mkdir()
    return work


def test_the_kernel_runs_this_interpreter(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import sys; print(sys.executable)")]
    out = execute(nb, tmp_path)
    assert out.cells[0].outputs[0]["text"].strip() == sys.executable


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_without_error(name, notebook_env, demo_copy):
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    execute(nb, notebook_env)  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert str(demo_copy) in text, "the notebook did not open the registry named by HEHU_REGISTRY"
    assert list(notebook_env.iterdir()) == [], "a notebook wrote into its working folder"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_no_outputs(name):
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_uses_only_the_public_geo_api(name):
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    source = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(("import ", "from ")):
            module = stripped.split()[1]
            assert not module.startswith(("server", "cli", "geo.stores")), line
            assert "._" not in module and " _" not in stripped.split(" import ")[-1], line


def test_without_hehu_registry_the_notebooks_build_then_reuse_data_jintan_gpkg(tmp_path, monkeypatch):
    """A planner runs jupyter from the repository with no HEHU_REGISTRY: the kernel starts in
    notebooks/ (jupyter lab, nbconvert) or at the top (jupyter execute); either way the
    notebooks open <repo>/data/jintan.gpkg, building the demo district there if it is missing."""
    monkeypatch.delenv("HEHU_REGISTRY", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    root = tmp_path / "repo"
    (root / "geo").mkdir(parents=True)
    (root / "notebooks").mkdir()
    gpkg = root / "data" / "jintan.gpkg"
    built_at = None
    for name, workdir in zip(NOTEBOOKS, [root / "notebooks", root, root / "notebooks"], strict=True):
        nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
        nb.cells = [next(cell for cell in nb.cells if cell.cell_type == "code")]
        out = execute(nb, workdir)
        text = "".join(o.get("text", "") for o in out.cells[0].outputs if o.output_type == "stream")
        assert text.startswith(str(gpkg)) and "demo" in text, (name, text)
        built_at = built_at or gpkg.stat().st_mtime_ns
        assert gpkg.stat().st_mtime_ns == built_at, f"{name} rebuilt an existing registry"
