"""Part files appended in the kernel give the bytes an ordinary copy gives: with and without
the header line skipped, on files without a final newline or without any, and where the
kernel copy is refused at once or part-way (another file system)."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pytest

from hutong import concat
from hutong.concat import append_file, open_target

PARTS = [
    "\ufeffmdtrt_id,rule_id\nA,1\n".encode(),
    "\ufeffmdtrt_id,rule_id\nB,2\nC,3\n".encode(),
    "\ufeffmdtrt_id,rule_id\nD,\u4e2d\u6587".encode(),  # no final newline
    "\ufeffmdtrt_id,rule_id".encode(),  # a header without its newline
    b"",
]


def expected(parts: list[bytes]) -> bytes:
    """What the old readline + copyfileobj concatenation wrote."""
    out = parts[0]
    for part in parts[1:]:
        newline = part.find(b"\n")
        out += part[newline + 1 :] if newline >= 0 else b""
    return out


def write_parts(folder: Path, parts: list[bytes]) -> list[Path]:
    paths = []
    for i, data in enumerate(parts):
        path = folder / f"part-{i}.csv"
        path.write_bytes(data)
        paths.append(path)
    return paths


def concatenate(paths: list[Path], target: Path) -> bytes:
    with open_target(target) as out:
        for i, path in enumerate(paths):
            append_file(path, out, skip_header=i > 0)
    return target.read_bytes()


def test_appended_bytes_skip_every_header_but_the_first(tmp_path: Path) -> None:
    paths = write_parts(tmp_path, PARTS)
    assert concatenate(paths, tmp_path / "out" / "all.csv") == expected(PARTS)


def test_whole_files_are_appended_unchanged(tmp_path: Path) -> None:
    paths = write_parts(tmp_path, PARTS)
    with open_target(tmp_path / "all.ndjson") as out:
        for path in paths:
            append_file(path, out)
    assert (tmp_path / "all.ndjson").read_bytes() == b"".join(PARTS)


def test_a_long_header_line_is_skipped_whole(tmp_path: Path) -> None:
    parts = [b"h" * 10_000 + b"\nrow1\n", b"h" * 10_000 + b"\nrow2\n"]
    assert concatenate(write_parts(tmp_path, parts), tmp_path / "all.csv") == expected(parts)


@pytest.mark.parametrize("after", [0, 1, 3], ids=["refused", "after-one", "after-three"])
def test_a_refused_kernel_copy_falls_back_to_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: int
) -> None:
    """copy_file_range refused (EXDEV across file systems) at once or after some calls, each
    call copying a few bytes: the rest is copied the ordinary way from where it stopped."""
    real, calls = os.copy_file_range, []

    def refusing(src: int, dst: int, count: int, offset_src: int) -> int:
        calls.append(count)
        if len(calls) > after:
            raise OSError(errno.EXDEV, "cross-device")
        return real(src, dst, min(count, 3), offset_src)

    monkeypatch.setattr(concat.os, "copy_file_range", refusing)
    paths = write_parts(tmp_path, PARTS)
    assert concatenate(paths, tmp_path / "all.csv") == expected(PARTS)
    assert calls, "the kernel copy was tried"


class Grudging(io.FileIO):
    """A file whose every write takes at most five bytes (as an interrupted write may)."""

    def write(self, data) -> int:  # type: ignore[override]
        return super().write(bytes(data[:5]))


def test_short_writes_of_the_ordinary_copy_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*args: object) -> int:
        raise OSError(errno.ENOSYS, "no copy_file_range")

    monkeypatch.setattr(concat.os, "copy_file_range", refused)
    paths = write_parts(tmp_path, PARTS)
    with Grudging(tmp_path / "all.csv", "wb") as out:
        for i, path in enumerate(paths):
            append_file(path, out, skip_header=i > 0)
    assert (tmp_path / "all.csv").read_bytes() == expected(PARTS)
