"""The collector settings a partition runs under are its own: restored afterwards, also when
the partition fails."""

from __future__ import annotations

import gc

import pytest

from hutong.gcpause import paused_gc, relaxed_gc


def test_relaxed_gc_raises_the_young_threshold_and_restores_it() -> None:
    before = gc.get_threshold()
    with relaxed_gc(50_000):
        assert gc.get_threshold() == (50_000, *before[1:])
    assert gc.get_threshold() == before
    with pytest.raises(ValueError), relaxed_gc(50_000):
        raise ValueError("a failing partition")
    assert gc.get_threshold() == before


def test_paused_gc_restores_collection() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
