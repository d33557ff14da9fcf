"""The full national ICD-10 医保版 2.0 list (33k codes) in a store: whole and searchable (how
fast it loads is measured in benchmarks/store_load.py, not asserted here)."""

from __future__ import annotations

from hutong.terminologies.codesystem import DIAGNOSIS, load_code_system
from hutong.terminologies.store import Store
from stores import store_url_fixture  # noqa: F401


def test_the_national_list_loads_whole_with_its_gray_codes_and_searches(reference, store_url):
    national = load_code_system(DIAGNOSIS, reference / "icd10-yb-2.0.txt")
    assert len(national) > 30_000 and len(national.gray) > 2_000
    with Store(store_url()) as store:
        info = store.save_code_system(national)
        assert info.loaded == len(national)
        back = store.code_system(DIAGNOSIS)
        assert back.concepts == national.concepts and back.gray == national.gray
        codes = [c.code for c in store.search("I25.1", DIAGNOSIS, limit=3)]
        assert codes == ["I25.100", "I25.102", "I25.103"]
        assert store.search("gzdmzyyhxxzb", DIAGNOSIS)[0].code == "I25.103"
        assert all("冠状动脉" in c.display for c in store.search("冠状动脉", DIAGNOSIS))
        assert store.search("E14.900x001", DIAGNOSIS)[0].display == "糖尿病"
