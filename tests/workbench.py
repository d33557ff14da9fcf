"""Workbench fixtures: a store with the sample code systems, the local terms of a real run of
the vendor-a samples with matcher candidates, that run's outputs for the QC pages, and one
account per role. Built once per test process, copied for every test (each gets its own
database, so tests never see each other's decisions).

Test modules import the ``*_fixture`` functions; pytest knows them as ``workbench``, ``app``
and ``login``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hutong.cli import app as cli
from hutong.terminologies.codesystem import DIAGNOSIS, PROCEDURE, sample_code_system
from hutong.terminologies.store import Store
from hutong.web.accounts import Accounts
from hutong.web.app import Settings, create_app

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse 1"
USERS = {
    "coder1": "coder",
    "coder2": "coder",
    "rev1": "reviewer",
    "rev2": "reviewer",
    "admin1": "admin",
}


@dataclass(frozen=True)
class Workbench:
    folder: Path
    url: str  # the store
    runs: Path  # run outputs, one folder per run


def _invoke(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output


@cache
def _template(base: Path) -> Workbench:
    base.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(base / 'store.db').as_posix()}"
    with Store(url) as store:
        for system in (DIAGNOSIS, PROCEDURE):
            store.save_code_system(sample_code_system(system))
        accounts = Accounts(store)
        for name, role in USERS.items():
            accounts.add_user(name, PASSWORD, role, display_name=name.upper())
    runs = base / "runs"
    _invoke("run", str(ROOT / "samples" / "vendor-a"), "-o", str(runs / "vendor-a"), "-q",
            "--db", url, "--drg-pack", "sample", "--base-rate", "10000")  # fmt: skip
    for system in (DIAGNOSIS, PROCEDURE):
        _invoke("map", "auto", "--db", url, "--min-score", "101", "-s", system)
    return Workbench(base, url, runs)


@pytest.fixture(name="workbench")
def workbench_fixture(tmp_path_factory, tmp_path) -> Workbench:
    template = _template(tmp_path_factory.getbasetemp() / "workbench-template")
    folder = tmp_path / "workbench"
    shutil.copytree(template.folder, folder)
    return Workbench(folder, f"sqlite:///{(folder / 'store.db').as_posix()}", folder / "runs")


@pytest.fixture(name="app")
def app_fixture(workbench: Workbench):
    return create_app(Settings(store_url=workbench.url, runs=workbench.runs))


@pytest.fixture(name="login")
def login_fixture(app):
    """``login(user)`` → a TestClient signed in as ``user``, with ``client.csrf`` set."""

    def login(username: str) -> TestClient:
        client = TestClient(app)
        pre = client.get("/api/csrf").json()["csrf"]
        response = client.post(
            "/api/login", json={"username": username, "password": PASSWORD},
            headers={"X-CSRF-Token": pre},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        client.csrf = response.json()["csrf"]
        client.headers["X-CSRF-Token"] = client.csrf
        return client

    return login
