"""Synthetic inpatient cases in canonical field names, drawn from the shipped case mix.

>>> cases = generate_cases(200, seed=2024)
>>> sorted(cases[0])  # doctest: +NORMALIZE_WHITESPACE
['broken', 'charges', 'diagnoses', 'encounter', 'fee_lines', 'patient', 'procedures', 'raw',
 'scenario']

Each case is a dict of canonical records (``patient``, ``encounter``, ``diagnoses``,
``procedures``, ``charges`` per fee category, ``fee_lines`` itemised), plus ``scenario`` (the
kind of stay), ``broken`` (``None`` or a kind of :mod:`hutong.synthetic.broken`) and ``raw``
(verbatim text a vendor file must carry instead of a field's value). Times are naive
``datetime`` to the minute, dates ``date``, weights whole grams, amounts ``Decimal``.
The same ``n`` and ``seed`` give the same cases; no clock is read.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from hutong.synthetic import broken, homepage
from hutong.synthetic.casemix import CaseMix, Scenario, Step, casemix
from hutong.synthetic.draw import chance, weighted
from hutong.synthetic.fees import fee_lines, stay_charges
from hutong.synthetic.people import Roster, Staff, age_on, birthday, patient, roster

MAX_SECONDARY = 10
MAX_PROCEDURES = 5
CHUNK = 1_000  # cases built, localised and written at a time (~25 MB)


def generate_cases(n: int, seed: int) -> list[dict]:
    """``n`` cases for ``seed``; a few (chosen by the seed) deliberately broken."""
    return [case for chunk in iter_cases(n, seed) for case in chunk]


def iter_cases(n: int, seed: int, chunk: int = CHUNK, itemise: bool = True) -> Iterator[list[dict]]:
    """The cases of :func:`generate_cases` in lists of at most ``chunk``, built as they go."""
    step = max(chunk, 1)
    for start in range(0, n, step):
        yield cases_between(n, seed, start, min(start + step, n), itemise)


def cases_between(n: int, seed: int, start: int, stop: int, itemise: bool = True) -> list[dict]:
    """Cases ``start`` to ``stop - 1`` of the run of ``n`` cases for ``seed``.

    Each case draws from its own streams (seeded by its index), so any slice equals the same
    slice of the whole run; only the broken-case plan spans the run, drawn once per process.
    ``itemise=False`` skips the fee lines (the last draw of a case, so nothing else changes)
    for writers that only need the category totals.
    """
    mix, staff, bases, faults = _run(n, seed)
    cases = []
    for i in range(start, stop):
        rng = random.Random(f"hutong-synthetic/{seed}/case/{i}")
        kind = faults.get(i)
        case = _case(rng, mix, staff, i, bases, kind)
        homepage.add_items(homepage.stream(seed, i), mix, case)  # own stream: see homepage
        if kind:
            broken.apply(kind, case, rng, mix)
        case["fee_lines"] = fee_lines(rng, mix, case["charges"]) if itemise else []
        cases.append(case)
    return cases


@lru_cache(maxsize=4)
def _run(n: int, seed: int) -> tuple[CaseMix, Roster, dict[str, int], dict[int, str]]:
    """What a run shares: case mix, staff, id bases and which cases break (by index)."""
    mix = casemix()
    staff = roster(random.Random(f"hutong-synthetic/{seed}/staff"), mix)
    ids = random.Random(f"hutong-synthetic/{seed}/ids")
    bases = {k: ids.randrange(10**5, 4 * 10**5) for k in ("visit", "mrn", "setl", "bill")}
    faults = broken.plan(n, random.Random(f"hutong-synthetic/{seed}/broken"))
    return mix, staff, bases, faults


def _case(
    rng: random.Random, mix: CaseMix, staff: Roster, i: int, bases: dict, kind: str | None
) -> dict:
    newborn_only = kind is not None and broken.needs_newborn(kind)
    pool = [s for s in mix.scenarios if s.newborn or not newborn_only]
    scenario = pool[weighted(rng, {k: s.weight for k, s in enumerate(pool)})]
    discharge = broken.forced_discharge(kind) or _discharge(rng, scenario)
    died = discharge == "5"
    gend = scenario.sex or rng.choice(["1", "2"])
    adm_way = weighted(rng, scenario.adm_way)
    adm, dscg, los = _stay(rng, mix, scenario, adm_way, died)
    if scenario.newborn:
        days = rng.randint(*scenario.age_days)
        brdy = adm.date() - timedelta(days=days)
    else:
        brdy = birthday(rng, rng.randint(*scenario.age), adm.date())
    age = age_on(brdy, adm.date())
    mdtrt_id = f"{mix.year}{bases['visit'] + i:06d}"
    medcasno = f"{bases['mrn'] * 10 + 3 * i + rng.randrange(3):07d}"
    person = {"patient_id": medcasno, "medcasno": medcasno, **patient(rng, mix, gend, brdy, age)}
    doctor = rng.choice(staff.doctors[scenario.caty])
    steps = _steps(rng, scenario, died)
    encounter = _encounter(rng, mix, scenario, staff, discharge, adm, dscg, los, age, brdy)
    encounter.update(
        adm_way=adm_way,
        mdtrt_id=mdtrt_id,
        patient_id=medcasno,
        medcasno=medcasno,
        chfpdr_name=doctor.name,
        chfpdr_code=doctor.code,
        setl_id=f"{mix.hospital['fixmedins_code'][1:7]}{dscg:%Y%m%d}{bases['setl'] + i:06d}",
        bill_no=f"{bases['bill'] * 10**4 + i:010d}",
        biz_sn=f"{adm:%Y%m%d}{bases['visit'] + i:06d}",
    )
    if encounter["hi_type"] != "9":
        encounter["hi_no"] = f"{encounter['insuplc']}{rng.randrange(10**12):012d}"
    return {
        "scenario": scenario.id,
        "broken": None,
        "raw": {},
        "patient": person,
        "encounter": encounter,
        "diagnoses": _diagnoses(rng, mix, scenario, died, mdtrt_id),
        "procedures": _procedures(rng, mix, staff, scenario, steps, adm, dscg, doctor, mdtrt_id),
        "charges": stay_charges(
            rng, mix, scenario.fees, los, scenario.extra_fees, [s for s, _ in steps], mdtrt_id
        ),
    }


def _discharge(rng: random.Random, scenario: Scenario) -> str:
    """离院方式: each non-routine mode with its scenario probability, else 1 医嘱离院."""
    draw = rng.random()
    for mode, p in scenario.discharge.items():
        if draw < p:
            return mode
        draw -= p
    return "1"


def _stay(
    rng: random.Random, mix: CaseMix, scenario: Scenario, adm_way: str, died: bool
) -> tuple[datetime, datetime, int]:
    """Admission and discharge times within the year, to the minute, and the billed days."""
    nights = rng.randint(*scenario.los)
    first, last = date(mix.year, 1, 1), date(mix.year, 12, 31) - timedelta(days=nights)
    day = first + timedelta(days=rng.randrange((last - first).days + 1))
    urgent = adm_way == "1" or scenario.newborn
    hour = rng.randrange(24) if urgent and nights > 0 else rng.randint(7, 10)
    adm = datetime.combine(day, time(hour, rng.randrange(60)))
    if nights == 0:
        dscg = adm + timedelta(hours=rng.randint(4, 8), minutes=rng.randrange(60))
    else:
        hour = rng.randrange(24) if died else rng.randint(8, 16)
        dscg = datetime.combine(day + timedelta(days=nights), time(hour, rng.randrange(60)))
    return adm, dscg, max(nights, 1)


def _encounter(
    rng: random.Random,
    mix: CaseMix,
    scenario: Scenario,
    staff: Roster,
    discharge: str,
    adm: datetime,
    dscg: datetime,
    los: int,
    age: int,
    brdy: date,
) -> dict:
    hospital = mix.hospital
    hi_type = weighted(rng, {"2": 85, "9": 15} if age < 18 else {"1": 50, "2": 42, "9": 8})
    readmit = scenario.readmit and discharge == "1" and chance(rng, scenario.readmit[0])
    receiver = {"2": "transfer_to", "3": "community_to"}.get(discharge)
    record = {
        "fixmedins_code": hospital["fixmedins_code"],
        "fixmedins_name": hospital["fixmedins_name"],
        "hi_type": hi_type,
        "hi_no": None,
        "insuplc": None if hi_type == "9" else weighted(rng, hospital["insuplc"]),
        "ipt_med_type": scenario.ipt_med_type,
        "trt_type": "1",
        "adm_time": adm,
        "dscg_time": dscg,
        "adm_caty": scenario.caty,
        "dscg_caty": scenario.caty,
        "act_ipt_days": los,
        "age": age,
        "nwb_age": (adm.date() - brdy).days if age == 0 else None,
        "nwb_adm_type": None,
        "nwb_bir_wt": None,
        "nwb_adm_wt": None,
        "dscg_way": discharge,
        "acp_medins_name": rng.choice(hospital[receiver]) if receiver else None,
        "days_rinp_flag_31": "2" if readmit else "1",
        "days_rinp_pup_31": scenario.readmit[1] if readmit else None,
        "hi_paymtd": "1" if hi_type == "9" else "4",
        "bill_code": hospital["bill_code"],
        "medins_fill_dept": hospital["fill_dept"],
        "medins_fill_psn": rng.choice(staff.coders).name,
    }
    if scenario.newborn:
        birth = _grams(rng, *scenario.birth_weight)
        days = (adm.date() - brdy).days
        now = birth if days == 0 else round(birth * rng.uniform(0.94, 1.0 + days / 100), -1)
        record.update(
            nwb_adm_type=weighted(rng, scenario.newborn_types),
            nwb_bir_wt=birth,
            nwb_adm_wt=int(now),
        )
    elif scenario.delivery_weight:  # 产妇: the face sheet carries the baby's birth weight
        record["nwb_bir_wt"] = _grams(rng, *scenario.delivery_weight)
    return record


def _grams(rng: random.Random, lo: int, hi: int) -> int:
    """A weight in grams, to 10 g as the face sheet asks."""
    return rng.randint(lo // 10, hi // 10) * 10


def _diagnoses(
    rng: random.Random, mix: CaseMix, scenario: Scenario, died: bool, mdtrt_id: str
) -> list[dict]:
    """Main diagnosis, then the secondaries drawn group by group (no code twice)."""
    main = weighted(rng, scenario.main)
    cond = weighted(rng, {"1": 88, "2": 8, "3": 4})
    coded: list[tuple[str, str]] = [(main, cond)]
    seen = {main}
    draws = [(g.p, g.choices, g.adm_cond) for g in scenario.secondary]
    if died:
        draws += [(p, {(code,): 1.0}, "4") for code, p in scenario.death_secondary.items()]
    for p, choices, adm_cond in draws:
        if chance(rng, p):
            for code in weighted(rng, choices):
                if code not in seen:
                    seen.add(code)
                    coded.append((code, adm_cond))
    coded = coded[: MAX_SECONDARY + 1]
    return [
        {
            "mdtrt_id": mdtrt_id,
            "seq": seq,
            "maindiag_flag": "1" if seq == 1 else "0",
            "diag_type": "1",
            "local_code": code,
            "local_name": mix.diagnoses[code],
            "code": code,
            "name": mix.diagnoses[code],
            "adm_cond_type": adm_cond,
        }
        for seq, (code, adm_cond) in enumerate(coded, start=1)
    ]


def _steps(rng: random.Random, scenario: Scenario, died: bool) -> list[tuple[Step, bool]]:
    """The procedures of the stay: one drawn option, plus resuscitation when the patient died.

    The flag marks the death procedures, which happen just before the discharge (death) time.
    """
    steps: list[tuple[Step, bool]] = []
    if scenario.procedures:
        option = weighted(rng, {i: o[0] for i, o in enumerate(scenario.procedures)})
        steps = [(step, False) for step in scenario.procedures[option][1]]
    if died:
        steps += [(Step(code, "1", None, (0, 0), {}), True) for code in scenario.death_procedures]
    return steps[:MAX_PROCEDURES]


def _procedures(
    rng: random.Random,
    mix: CaseMix,
    staff: Roster,
    scenario: Scenario,
    steps: list[tuple[Step, bool]],
    adm: datetime,
    dscg: datetime,
    doctor: Staff,
    mdtrt_id: str,
) -> list[dict]:
    rows: list[dict] = []
    when, previous = adm, None
    surgeon = doctor if chance(rng, 0.6) else rng.choice(staff.doctors[scenario.caty])
    for seq, (step, at_death) in enumerate(steps, start=1):
        if at_death:
            when = dscg - timedelta(minutes=rng.randint(10, 90))
        elif previous is None or step.day != previous.day:
            when = _when(rng, step, adm, dscg)
        previous = step
        general = step.anst in {"1", "2", "4"}
        anaesthetist = rng.choice(staff.anaesthetists) if general else None
        rows.append(
            {
                "mdtrt_id": mdtrt_id,
                "seq": seq,
                "main_flag": "1" if seq == 1 else "0",
                "oprn_oprt_type": "1" if seq == 1 else "2",
                "local_code": step.code,
                "local_name": mix.procedures[step.code],
                "code": step.code,
                "name": mix.procedures[step.code],
                "oprn_oprt_date": max(when, adm),
                "oprn_lv": step.lv,
                "anst_way": step.anst,
                "oper_dr_name": surgeon.name,
                "oper_dr_code": surgeon.code,
                "anst_dr_name": anaesthetist.name if anaesthetist else None,
                "anst_dr_code": anaesthetist.code if anaesthetist else None,
            }
        )
    return rows


def _when(rng: random.Random, step: Step, adm: datetime, dscg: datetime) -> datetime:
    """A procedure time inside the stay: ``step.day`` days after admission, in working hours."""
    nights = (dscg.date() - adm.date()).days
    day = rng.randint(min(step.day[0], nights), min(step.day[1], nights))
    if day == 0:
        when = adm + timedelta(minutes=rng.randint(40, 180))
    else:
        start = datetime.combine(adm.date() + timedelta(days=day), time(8))
        when = start + timedelta(minutes=rng.randrange(8 * 60))
    return min(when, dscg - timedelta(minutes=30))
