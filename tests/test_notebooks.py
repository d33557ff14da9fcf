"""Notebooks run top to bottom on a demo output (they are plain percent-format scripts)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hutong.cli import app

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_on_the_demo_output(notebook, tmp_path, monkeypatch, capsys):
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["demo", "--out", str(out), "--samples", str(ROOT / "samples"), "-q"]
    )
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("HUTONG_OUT", str(out))
    runpy.run_path(str(notebook), run_name="__main__")
    printed = capsys.readouterr().out
    assert "converted" in printed and "SL-" in printed
