"""Work beside the driver: a forked child's result comes back (also one larger than a pipe's
buffer), a failed child fails the caller, and the unforked call gives the same."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from hutong.parallel import Beside


def frame_of(n: int) -> pd.DataFrame:
    return pd.DataFrame({"mdtrt_id": [f"Z{i:07d}" for i in range(n)], "pid": os.getpid()})


@pytest.mark.parametrize("forked", [True, False])
def test_the_result_comes_back_whole(forked: bool) -> None:
    task = Beside(frame_of, 200_000, forked=forked)  # megabytes: more than a pipe holds
    result = task.result()
    assert isinstance(result, pd.DataFrame)
    pd.testing.assert_series_equal(result["mdtrt_id"], frame_of(200_000)["mdtrt_id"])
    assert (result["pid"] != os.getpid()).all() if forked else (result["pid"] == os.getpid()).all()
    assert task.result() is result  # asked again: the same value, the child long joined


def test_a_child_that_fails_fails_the_caller() -> None:
    def broken() -> None:
        raise ValueError("no impact file")

    with pytest.raises(RuntimeError, match="broken failed in its process"):
        Beside(broken).result()
    with pytest.raises(ValueError, match="no impact file"):
        Beside(broken, forked=False)


def test_a_child_that_dies_without_a_word_fails_the_caller() -> None:
    def killed() -> None:
        os._exit(9)

    with pytest.raises(RuntimeError, match=r"exit 9"):
        Beside(killed).wait()
