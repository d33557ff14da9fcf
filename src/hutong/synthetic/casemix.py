"""The case mix of the synthetic samples, loaded from ``scenarios.toml`` and checked.

Scenarios name codes only; the names come from the shipped sample code lists, so a scenario can
never use a code (or a misspelt name) that the samples' own code lists do not contain.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

DIAGNOSIS_LIST = "sample-icd10-yb-2.0.txt"
PROCEDURE_LIST = "sample-icd9cm3-yb-2.0.txt"


@dataclass(frozen=True)
class Step:
    """One procedure of a procedure option: code, 手术级别, 麻醉方式 and its fees."""

    code: str
    lv: str
    anst: str | None
    day: tuple[int, int]
    fees: dict[str, tuple[float, float]]


@dataclass(frozen=True)
class Secondary:
    """A group of secondary diagnoses drawn with probability ``p``; each choice is coded whole."""

    p: float
    choices: dict[tuple[str, ...], float]
    adm_cond: str


@dataclass(frozen=True)
class Scenario:
    """One kind of inpatient stay (冠心病择期PCI, 头位顺产, 早产儿 ...)."""

    id: str
    dept: str
    caty: str
    weight: float
    sex: str | None
    age: tuple[int, int] | None
    age_days: tuple[int, int] | None
    los: tuple[int, int]
    adm_way: dict[str, float]
    ipt_med_type: str
    fees: str
    extra_fees: dict[str, tuple[float, float]]
    main: dict[str, float]
    secondary: tuple[Secondary, ...]
    procedures: tuple[tuple[float, tuple[Step, ...]], ...]
    discharge: dict[str, float]
    death_secondary: dict[str, float]
    death_procedures: tuple[str, ...]
    newborn_types: dict[str, float]
    birth_weight: tuple[int, int] | None
    delivery_weight: tuple[int, int] | None
    readmit: tuple[float, str] | None

    @property
    def newborn(self) -> bool:
        return self.age_days is not None


@dataclass(frozen=True)
class CaseMix:
    """Everything the generator draws from: hospital, scenarios, code names, people, fees."""

    year: int
    hospital: dict
    scenarios: tuple[Scenario, ...]
    diagnoses: dict[str, str]
    procedures: dict[str, str]
    people: dict
    fees: dict
    broken: dict


@cache
def casemix() -> CaseMix:
    """The shipped case mix; ``ValueError`` names a scenario code missing from the code lists."""
    data = _toml("scenarios.toml")
    diagnoses = code_list(DIAGNOSIS_LIST)
    procedures = code_list(PROCEDURE_LIST)
    scenarios = tuple(_scenario(s, data) for s in data["scenario"])
    for scenario in scenarios:
        _check_codes(scenario, diagnoses, procedures)
    return CaseMix(
        year=int(data["year"]),
        hospital=data["hospital"],
        scenarios=scenarios,
        diagnoses=diagnoses,
        procedures=procedures,
        people=_toml("people.toml"),
        fees=_toml("fees.toml"),
        broken=_toml("broken.toml"),
    )


@cache
def code_list(file_name: str) -> dict[str, str]:
    """A shipped sample code list (``CODE NAME`` per line) as code -> name."""
    folder = resources.files("hutong.terminologies").joinpath("data")
    text = folder.joinpath(file_name).read_text("utf-8")
    return dict(line.split(" ", 1) for line in text.splitlines() if line)


def _toml(name: str) -> dict:
    return tomllib.loads(resources.files("hutong.synthetic").joinpath(name).read_text("utf-8"))


def _pair(value: list | None) -> tuple | None:
    return None if value is None else (value[0], value[1])


def _scenario(spec: dict, data: dict) -> Scenario:
    death = spec.get("death", {})
    newborn = spec.get("newborn", {})
    readmit = spec.get("readmit")
    return Scenario(
        id=spec["id"],
        dept=spec["dept"],
        caty=spec["caty"],
        weight=float(spec["weight"]),
        sex=spec.get("sex"),
        age=_pair(spec.get("age")),
        age_days=_pair(spec.get("age_days")),
        los=_pair(spec["los"]),
        adm_way=spec["adm_way"],
        ipt_med_type=spec.get("ipt_med_type", "1"),
        fees=spec["fees"],
        extra_fees={k: _pair(v) for k, v in spec.get("extra_fees", {}).items()},
        main=spec["main"],
        secondary=tuple(_secondary(g, data) for g in spec.get("secondary", [])),
        procedures=tuple(
            (float(o["weight"]), tuple(_step(s) for s in o["steps"]))
            for o in spec.get("procedures", [])
        ),
        discharge=spec.get("discharge", {}),
        death_secondary=death.get("secondary", {}),
        death_procedures=tuple(death.get("procedures", [])),
        newborn_types=newborn.get("type", {}),
        birth_weight=_pair(newborn.get("birth_weight")),
        delivery_weight=_pair(spec.get("delivery", {}).get("birth_weight")),
        readmit=(readmit["p"], readmit["purpose"]) if readmit else None,
    )


def _secondary(spec: dict, data: dict) -> Secondary:
    pick = spec["pick"]
    if isinstance(pick, str):  # a named group shared by scenarios, e.g. "htn"
        pick = data[pick]["pick"]
    return Secondary(
        p=float(spec["p"]),
        choices={tuple(key.split()): float(w) for key, w in pick.items()},
        adm_cond=spec.get("adm_cond", "1"),
    )


def _step(spec: dict) -> Step:
    return Step(
        code=spec["code"],
        lv=spec["lv"],
        anst=spec.get("anst"),
        day=_pair(spec.get("day", [0, 1])),
        fees={k: _pair(v) for k, v in spec.get("fees", {}).items()},
    )


def _check_codes(s: Scenario, diagnoses: dict[str, str], procedures: dict[str, str]) -> None:
    dx = set(s.main) | set(s.death_secondary)
    for group in s.secondary:
        dx.update(code for key in group.choices for code in key)
    px = set(s.death_procedures) | {step.code for _, steps in s.procedures for step in steps}
    missing = sorted(dx - diagnoses.keys()) + sorted(px - procedures.keys())
    if missing:
        raise ValueError(f"scenario {s.id!r}: codes not in the sample code lists: {missing}")
