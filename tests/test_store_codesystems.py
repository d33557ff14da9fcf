"""Code systems in the store: loading in one transaction, versions, gray codes and search."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from hutong.terminologies.codesystem import DIAGNOSIS, CodeSystem, Concept, sample_code_system
from hutong.terminologies.store import Store, initials
from stores import new_store_fixture, next_version, store_fixture, store_url_fixture  # noqa: F401


def test_a_saved_system_reads_back_as_loaded(store):
    sample = sample_code_system(DIAGNOSIS)
    back = store.code_system(DIAGNOSIS)
    assert (back.id, back.version, back.source) == (DIAGNOSIS, "2.0", sample.source)
    assert list(back.concepts) == list(sample.concepts)  # file order kept
    assert back.concepts == sample.concepts  # display, parent, chapter, active, gray
    assert back.gray == sample.gray == {"C34.900", "I10.x00", "I21.000", "P59.900", "Z37.000"}
    [info] = store.code_systems()
    assert (info.name, info.loaded, info.current) == (DIAGNOSIS, len(sample), True)
    assert info.loaded_at.tzinfo is not None


def test_saving_a_version_twice_needs_replace(store):
    sample = sample_code_system(DIAGNOSIS)
    with pytest.raises(ValueError, match=r"icd10-yb-2.0 2.0 is already stored .*replace=True"):
        store.save_code_system(sample)
    del sample.concepts["Z37.000"]
    assert store.save_code_system(sample, replace=True).loaded == len(sample)
    assert "Z37.000" not in store.code_system(DIAGNOSIS)


def test_the_newest_load_is_current_and_older_versions_stay_readable(store):
    sample = sample_code_system(DIAGNOSIS)
    store.save_code_system(next_version(sample, "2.1", {}, {"Z37.000"}))
    assert store.code_system(DIAGNOSIS).version == "2.1"
    assert "Z37.000" in store.code_system(DIAGNOSIS, "2.0")
    assert [(i.version, i.current) for i in store.code_systems()] == [("2.0", False), ("2.1", True)]
    with pytest.raises(ValueError, match=r"no version '9.9'; stored: 2.0, 2.1"):
        store.code_system(DIAGNOSIS, "9.9")


def test_a_concept_the_database_refuses_leaves_nothing_half_loaded(store):
    concepts = {f"A{n:02d}.000": Concept(f"A{n:02d}.000", f"病{n}") for n in range(50)}
    concepts["A25.000"].display = None  # NOT NULL violated half-way through the bulk insert
    broken = CodeSystem("icd10-broken", "1.0", "test", concepts)
    with pytest.raises(ValueError, match=r"icd10-broken 1.0 not saved \(nothing changed\)"):
        store.save_code_system(broken)
    assert [i.name for i in store.code_systems()] == [DIAGNOSIS]
    with store.engine.connect() as conn:
        codes = conn.execute(sa.text("SELECT count(*) FROM concept WHERE code LIKE 'A%'"))
        assert codes.scalar() == 0
    # A failed replace keeps the version that was there.
    twin = sample_code_system(DIAGNOSIS)
    twin.concepts["I10.x00"].display = None
    with pytest.raises(ValueError, match="not saved"):
        store.save_code_system(twin, replace=True)
    assert store.code_system(DIAGNOSIS).concepts == sample_code_system(DIAGNOSIS).concepts


def test_mark_gray_reports_unknown_codes_and_strict_changes_nothing(store):
    assert store.mark_gray(DIAGNOSIS, {"I25.103", "X99.999"}) == {"X99.999"}
    assert "I25.103" in store.code_system(DIAGNOSIS).gray
    with pytest.raises(ValueError, match=r"has no code\(s\) X99.999; no gray flag changed"):
        store.mark_gray(DIAGNOSIS, {"I63.900", "X99.999"}, strict=True)
    assert "I63.900" not in store.code_system(DIAGNOSIS).gray


def test_an_unknown_system_is_an_error_naming_the_known_ones(store):
    with pytest.raises(
        ValueError, match=r"unknown code system 'icd10'; the store has: icd10-yb-2\.0"
    ):
        store.code_system("icd10")
    with pytest.raises(ValueError, match="unknown code system"):
        store.search("I25", "icd9")
    with pytest.raises(ValueError, match="unknown code system"):
        store.mark_gray("icd10", {"I25.103"})


def test_pinyin_initials_keep_latin_and_digits():
    assert initials("冠状动脉粥样硬化") == "gzdmzyyh"
    assert initials("特发性（原发性）高血压") == "tfxyfxgxy"
    assert initials("2型糖尿病") == "2xtnb"
    assert initials("急性ST段抬高型心肌梗死") == "jxstdtgxxjgs"


@pytest.mark.parametrize(
    ("text", "first", "all_match"),
    [
        ("I25.103", "I25.103", lambda c: c.code == "I25.103"),
        ("i10.X0", "I10.x00", lambda c: c.code.startswith("I10.x0")),
        ("C34", "C34.900", lambda c: c.code.startswith("C34")),
        ("冠状动脉", "Z95.501", lambda c: "冠状动脉" in c.display),
        ("脑梗死", "I63.900", lambda c: "脑梗死" in c.display),
        ("gzdmzyyh", "I25.103", lambda c: "gzdmzyyh" in initials(c.display)),
        ("gxy", "I10.x00x002", lambda c: "gxy" in initials(c.display)),
    ],
)
def test_search_by_code_prefix_name_or_pinyin_initials(store, text, first, all_match):
    found = store.search(text, DIAGNOSIS)
    assert found and found[0].code == first
    assert all(all_match(c) for c in found)


def test_search_ranks_exact_and_short_first_and_honours_limit(store):
    codes = [c.code for c in store.search("I10", DIAGNOSIS, limit=3)]
    assert codes == ["I10.x00", "I10.x03", "I10.x04"]  # shorter codes first, then by code
    names = [c.display for c in store.search("高血压", DIAGNOSIS)]
    assert names[0] == "高血压" and names.index("高血压1级") < names.index("特发性（原发性）高血压")
    assert store.search("  ", DIAGNOSIS) == []
    assert store.search("100%_", DIAGNOSIS) == []  # LIKE wildcards are literal


def test_store_url_comes_from_hutong_db_or_the_user_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HUTONG_DB", f"sqlite:///{(tmp_path / 'env.db').as_posix()}")
    with Store() as from_env:
        assert from_env.url.endswith("env.db")
    assert (tmp_path / "env.db").exists()
    monkeypatch.delenv("HUTONG_DB")
    monkeypatch.setattr("platformdirs.user_data_dir", lambda app: str(tmp_path / "data" / app))
    with Store() as default:
        assert Path(default.url.removeprefix("sqlite:///")) == tmp_path / "data/hutong/hutong.db"
        with default.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    with pytest.raises(ValueError, match="runs on SQLite or PostgreSQL, not mysql"):
        Store("mysql://nobody@localhost/x")
