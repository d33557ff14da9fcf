"""The files of a run: which files the inputs given name, and the people's names they hold
(what a scan of a de-identified output must not find)."""

from __future__ import annotations

from pathlib import Path

from hutong.adapters.detect import detect, reader
from hutong.adapters.inspect import guess_profile
from hutong.adapters.profile import Profile
from hutong.adapters.table import batches, open_table

DOCS = ("README*", "*.md", "SOURCES*", "LICENSE*")  # notes beside the data, not data


def input_files(inputs: list[Path]) -> list[Path]:
    """Files to read: the files given, and every file inside folders given (walked in sorted
    order; hidden files and notes such as README.md skipped). Each goes to the adapter that
    recognises it; a file nobody recognises is rejected, not skipped."""
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file())
            files.extend(
                p
                for p in found
                if not any(part.startswith(".") for part in p.relative_to(item).parts)
                and not any(p.match(pattern) for pattern in DOCS)
            )
        elif item.exists():
            files.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such file or folder / 文件或目录不存在")
    return files


NAME_COLUMNS = {
    "patient": ("name", "coner_name"),
    "encounter": ("chfpdr_name",),
    "procedure": ("oper_dr_name", "anst_dr_name"),
    "order": ("requester",),
}


def input_names(inputs: list[Path], profile: Profile | None = None) -> set[str]:
    """The people's names in the inputs (patients, contacts, doctors): what a scan of a
    de-identified output must not find."""
    names: set[str] = set()
    for path in input_files(inputs):
        fmt = detect(path)
        if fmt is None:
            continue
        if fmt == "table":
            fitting = profile or guess_profile([path])
            raw, kind = open_table(path, fitting)
            stream = batches(raw, kind, fitting)
        else:
            stream = reader(fmt)(path)
        for batch in stream:
            for table, columns in NAME_COLUMNS.items():
                frame = batch.tables.get(table)
                for column in columns if frame is not None else ():
                    if column in frame:
                        names |= {str(v) for v in frame[column].dropna() if len(str(v)) >= 2}
    return names
