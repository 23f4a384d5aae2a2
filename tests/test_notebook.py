"""docs/notebook.ipynb runs headless, top to bottom, and shows what it promises: a frame, a plot, a prompt, a note."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebook.ipynb"


def test_notebook_is_committed_without_outputs() -> None:
    # Outputs in git make noisy diffs and can go stale; the test below produces them fresh.
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "strip outputs before committing"


def test_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FEATUREKIT_CATALOG", "FEATUREKIT_DATA", "FEATUREKIT_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # "python3" is ipykernel's native kernel: it resolves to this interpreter, so a fresh venv with the test
    # extra installed needs no `ipykernel install`. The working dir is a temp folder the notebook writes data/ to.
    client = NotebookClient(nb, kernel_name="python3", timeout=180, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "1 query, 60 customers" in text
    assert "$135.52" in text and "offline" in text  # the note quotes C00042's real spend, and says it is offline
    data = [o.get("data", {}) for o in outputs if o.output_type in ("display_data", "execute_result")]
    assert any("image/png" in d for d in data), "the plot was not rendered"
    assert any("<table>" in d.get("text/html", "") for d in data), "the FeatureFrame did not render as HTML"
    assert (tmp_path / "data" / "orders").is_dir()
