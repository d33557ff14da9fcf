"""Synthetic cases as HL7 v2.5 ER7 messages: ADT^A01 at admission, ADT^A03 at discharge
(PID, NK1, PV1, DG1, PR1) and ORU^R01 lab results, in files of :data:`PER_FILE` messages.

Segments end in ``\\r`` and messages are separated by ``\\n`` (plain batches, no MLLP), UTF-8
as MSH-18 says. Fields sit where :mod:`hutong.adapters.hl7v2` reads them: PID-3 (MR, and the
身份证 as NNCHN), PID-5, PID-7, PID-8, PV1-19 visit number, PV1-44/45 admission and discharge
times, PV1-36 discharge disposition, DG1-3 and PR1-3 the 医保版 code^name (national, not
localised), DG1-15/PR1-14 priority 1 for the main row. The lab results reuse
:func:`hutong.synthetic.lab.lab_rows`. Broken cases keep their raw text (a bad date, an unknown
sex, an empty visit number) in the field that carries it.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO

from hutong.synthetic.lab import lab_rows

PER_FILE = 10_000  # messages per file
Draft = tuple[str, str, datetime, list[str]]  # type, event, message time, segments after MSH
_ESCAPES = str.maketrans({"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "~": "\\R\\", "&": "\\T\\"})


@cache
def tables() -> dict:
    """The code tables of ``hl7.toml``."""
    text = resources.files("hutong.synthetic").joinpath("hl7.toml").read_text("utf-8")
    return tomllib.loads(text)


def esc(value: object) -> str:
    """A value as ER7 text: dates as TS, separators escaped, ``None`` empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y%m%d%H%M}"
    if isinstance(value, date):
        return f"{value:%Y%m%d}"
    return str(value).translate(_ESCAPES)


def segment(name: str, *fields: object) -> str:
    """One segment: ``fields`` from field 1; a tuple is one field's components."""
    parts = [name]
    for f in fields:
        parts.append("^".join(map(esc, f)) if isinstance(f, tuple) else esc(f))
    return "|".join(parts).rstrip("|")


class HL7Writer:
    """Message files in ``out``, appended to case by case; :meth:`close` returns the paths."""

    def __init__(self, out: Path, seed: int, per_file: int = PER_FILE) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out, self.seed, self.per_file = out, seed, per_file
        self.sent = 0
        self.paths: list[Path] = []
        self.handle: IO[str] | None = None

    def write(self, cases: list[dict]) -> None:
        """Append the messages of ``cases``: A01, A03, and an ORU^R01 when it has results."""
        self.append(messages(cases, self.seed))

    def append(self, drafts: list[Draft]) -> None:
        """Send messages from :func:`messages` (their MSH is written here, numbered in order)."""
        for draft in drafts:
            self._send(*draft)

    def _send(self, kind: str, event: str, when: datetime, body: list[str]) -> None:
        if self.handle is None or self.sent % self.per_file == 0:
            self._next_file()
        assert self.handle is not None
        self.sent += 1
        msh = tables()["msh"]
        header = segment(
            "MSH",
            "^~\\&",
            msh["sending_application"],
            msh["sending_facility"],
            msh["receiving_application"],
            msh["receiving_facility"],
            when,
            None,
            (kind, event, f"{kind}_{event}"),
            f"HT{self.seed}-{self.sent:09d}",
            "P",
            msh["version"],
            *([None] * 5),
            msh["charset"],
        )
        # MSH-1 is the field separator itself: the escaped "^~\&" must stay as written
        header = header.replace(esc("^~\\&"), "^~\\&", 1)
        self.handle.write("\r".join([header, *body]) + "\r\n")

    def _next_file(self) -> None:
        if self.handle is not None:
            self.handle.close()
        path = self.out / f"messages-{len(self.paths) + 1:05d}.hl7"
        self.paths.append(path)
        self.handle = path.open("w", encoding="utf-8", newline="")

    def close(self) -> list[Path]:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        return self.paths


def messages(cases: list[dict], seed: int) -> list[Draft]:
    """The messages of ``cases`` without their MSH: A01, A03, and an ORU^R01 with results."""
    labs: dict[str, list[dict]] = {}
    for row in lab_rows(cases, seed):
        labs.setdefault(row["mdtrt_id"], []).append(row)
    drafts: list[Draft] = []
    for case in cases:
        enc = case["encounter"]
        drafts.append(("ADT", "A01", enc["adm_time"], _visit(case, "A01")))
        drafts.append(("ADT", "A03", enc["dscg_time"], _visit(case, "A03")))
        rows = labs.get(enc["mdtrt_id"])
        if rows:
            drafts.append(("ORU", "R01", rows[0]["issued_time"], _results(case, rows)))
    return drafts


def _raw(case: dict, table: str, field: str, value: object) -> object:
    """The verbatim text of a broken case in place of the field's value."""
    return case["raw"].get(table, {}).get(field, value)


def _pid(case: dict) -> list[str]:
    pat = case["patient"]
    sex = _raw(case, "patient", "gend", pat["gend"])
    ids = [f"{esc(pat['medcasno'])}^^^HUTONG-H1^MR"]
    if pat.get("certno"):
        ids.append(f"{esc(pat['certno'])}^^^^NNCHN")
    pid = segment(
        "PID",
        1,
        None,
        None,  # PID-3, below: its repetitions must not be escaped
        None,
        pat["name"],
        None,
        pat["brdy"],
        tables()["sex"].get(sex, sex),
        *([None] * 2),
        (pat.get("curr_addr"), None, None, None, pat.get("poscode")),
        None,
        pat.get("tel"),
    )
    fields = pid.split("|")
    fields[3] = "~".join(ids)
    nk1 = segment("NK1", 1, pat.get("coner_name"), pat.get("patn_rlts"), None, pat.get("coner_tel"))
    return ["|".join(fields), nk1]


def _pv1(case: dict, discharged: bool) -> str:
    enc = case["encounter"]
    adm = _raw(case, "encounter", "adm_time", enc["adm_time"])
    dscg = _raw(case, "encounter", "dscg_time", enc["dscg_time"]) if discharged else None
    disposition = tables()["discharge"].get(enc["dscg_way"], enc["dscg_way"])
    fields: list[object] = [None] * 45
    fields[0] = 1
    fields[1] = "I"
    fields[2] = enc["dscg_caty"] if discharged else enc["adm_caty"]
    fields[6] = (enc.get("chfpdr_code"), enc.get("chfpdr_name"))
    fields[9] = enc["dscg_caty"] if discharged else enc["adm_caty"]
    fields[13] = enc.get("adm_way")
    fields[18] = _raw(case, "encounter", "mdtrt_id", enc["mdtrt_id"])
    fields[35] = disposition if discharged else None
    fields[43] = adm
    fields[44] = dscg
    return segment("PV1", *fields)


def _visit(case: dict, event: str) -> list[str]:
    """EVN, PID, NK1, PV1; at discharge also the DG1 and PR1 of the stay."""
    enc = case["encounter"]
    when = enc["adm_time"] if event == "A01" else enc["dscg_time"]
    body = [segment("EVN", event, when), *_pid(case), _pv1(case, event == "A03")]
    if event == "A03":
        for dx in case["diagnoses"]:
            main = "1" if dx["maindiag_flag"] == "1" else "2"
            body.append(
                segment(
                    "DG1",
                    dx["seq"],
                    None,
                    (dx["code"], dx["name"], "YB-ICD10-2.0"),
                    dx["name"],
                    None,
                    "F",
                    *([None] * 8),
                    main,
                )
            )
        for px in case["procedures"]:
            body.append(
                segment(
                    "PR1",
                    px["seq"],
                    None,
                    (px["code"], px["name"], "YB-ICD9CM3-2.0"),
                    px["name"],
                    px["oprn_oprt_date"],
                    None,
                    None,
                    (px.get("anst_dr_code"), px.get("anst_dr_name")),
                    None,
                    None,
                    (px.get("oper_dr_code"), px.get("oper_dr_name")),
                    None,
                    None,
                    "1" if px["main_flag"] == "1" else "2",
                )
            )
    return body


def _results(case: dict, rows: list[dict]) -> list[str]:
    """PID, PV1, then per panel ORC, OBR and one OBX per result."""
    body = [*_pid(case)[:1], _pv1(case, False)]
    panels: dict[str, list[dict]] = {}
    for row in rows:
        panels.setdefault(row["report_id"], []).append(row)
    for n, (report_id, items) in enumerate(panels.items(), start=1):
        first = items[0]
        body.append(segment("ORC", "RE", first["order_id"], report_id))
        obr: list[object] = [None] * 25
        obr[0], obr[1], obr[2] = n, first["order_id"], report_id
        obr[3] = (first["panel_code"], first["panel_name"], "L")
        obr[6], obr[21], obr[23], obr[24] = (
            first["effective_time"],
            first["issued_time"],
            "LAB",
            "F",
        )
        body.append(segment("OBR", *obr))
        for i, item in enumerate(items, start=1):
            numeric = item.get("value_num") is not None
            value = item["value_num"] if numeric else item.get("value_text")
            obx: list[object] = [None] * 14
            obx[0], obx[1] = i, "NM" if numeric else "ST"
            obx[2] = (item["local_code"], item["local_name"], "L")
            obx[4], obx[5], obx[6] = value, item.get("unit"), item.get("ref_range")
            obx[7], obx[10], obx[13] = item["abnormal_flag"], "F", item["effective_time"]
            body.append(segment("OBX", *obx))
    return body
