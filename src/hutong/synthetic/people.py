"""Synthetic people: patients with valid 18-digit ID numbers, their contacts, and hospital staff.

The ID number follows GB 11643-1999 (area code, birth date, sequence whose parity is the sex,
ISO 7064 MOD 11-2 check digit), so the QC checks on 身份证号 have something real to check.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from hutong.synthetic.casemix import CaseMix
from hutong.synthetic.draw import chance, weighted

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class Staff:
    """A doctor, anaesthetist or coder: name and 医保医师代码-style code."""

    name: str
    code: str


@dataclass(frozen=True)
class Roster:
    """The hospital's staff for one seed: doctors per department, anaesthetists, coders."""

    doctors: dict[str, tuple[Staff, ...]]
    anaesthetists: tuple[Staff, ...]
    coders: tuple[Staff, ...]


def check_digit(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of an ID number."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def id_number(rng: random.Random, area: str, brdy: date, gend: str) -> str:
    """A valid 18-digit ID number: birth date as given, odd sequence for men, even for women."""
    sequence = rng.randrange(0, 500) * 2 + (1 if gend == "1" else 0)
    first17 = f"{area}{brdy:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17)


def age_on(brdy: date, day: date) -> int:
    """实足年龄: completed years on ``day``."""
    return day.year - brdy.year - ((day.month, day.day) < (brdy.month, brdy.day))


def birthday(rng: random.Random, age: int, on: date) -> date:
    """A birth date that makes the person exactly ``age`` years old on ``on``."""
    latest = _years_before(on, age)
    earliest = _years_before(on, age + 1) + timedelta(days=1)
    return earliest + timedelta(days=rng.randrange((latest - earliest).days + 1))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without it
        return day.replace(year=day.year - years, day=28)


def full_name(rng: random.Random, mix: CaseMix, gend: str, surname: str | None = None) -> str:
    """A Chinese name: a common surname and one or two given-name characters fitting the sex."""
    people = mix.people
    surname = surname or weighted(rng, people["surnames"])
    chars = people["given_male"] if gend == "1" else people["given_female"]
    given = "".join(rng.choice(chars) for _ in range(1 if chance(rng, 0.3) else 2))
    return surname + given


def phone(rng: random.Random, mix: CaseMix) -> str:
    """An 11-digit mobile number."""
    return rng.choice(mix.people["phone_prefixes"]) + f"{rng.randrange(10**8):08d}"


def _by_age(rng: random.Random, bands: list[dict], age: int) -> str:
    for band in bands:
        lo, hi = band["ages"]
        if lo <= age < hi:
            return weighted(rng, band["codes"])
    raise ValueError(f"no age band for age {age}")


def patient(rng: random.Random, mix: CaseMix, gend: str, brdy: date, age: int) -> dict:
    """A patient record (canonical ``patient`` fields) without its ids."""
    people = mix.people
    areas = people["areas"]
    area = areas[weighted(rng, {k: a["weight"] for k, a in enumerate(areas)})]
    surname = weighted(rng, people["surnames"])
    marry = _by_age(rng, people["marital"], age)
    if age == 0:  # a newborn is registered under the mother's name: 李娜之子
        mother = full_name(rng, mix, "2")
        name = f"{mother}之{'子' if gend == '1' else '女'}"
        contact, relation = mother, "5"
    else:
        name = full_name(rng, mix, gend, surname)
        contact, relation = _contact(rng, mix, gend, age, marry, surname)
    return {
        "name": name,
        "gend": gend,
        "brdy": brdy,
        "patn_cert_type": "01",
        "certno": id_number(rng, area["code"], brdy, gend),
        "ntly": "CHN",
        "naty": weighted(rng, people["ethnicity"]),
        "prfs": _by_age(rng, people["occupation"], age),
        "marry": marry,
        "curr_addr": address(rng, mix, area["name"]),
        "poscode": area["poscode"],
        "tel": phone(rng, mix),
        "coner_name": contact,
        "patn_rlts": relation,
        "coner_tel": phone(rng, mix),
    }


def _contact(
    rng: random.Random, mix: CaseMix, gend: str, age: int, marry: str, surname: str
) -> tuple[str, str]:
    """The contact person and their 联系人关系 code: spouse, child, parent or sibling."""
    if marry == "20" and chance(rng, 0.7):
        return full_name(rng, mix, "2" if gend == "1" else "1"), "1"
    if age >= 55:
        child = rng.choice(["1", "2"])
        return full_name(rng, mix, child, surname), "2" if child == "1" else "3"
    if age < 30 or chance(rng, 0.5):
        return full_name(rng, mix, rng.choice(["1", "2"]), surname), "5"
    return full_name(rng, mix, rng.choice(["1", "2"]), surname), "7"


def address(rng: random.Random, mix: CaseMix, area: str) -> str:
    """A home address in ``area``: a village house or a flat in a city community."""
    people = mix.people
    if chance(rng, 0.25):
        town, village = rng.choice(people["towns"]), rng.choice(people["villages"])
        return f"{area}{town}{village}{rng.randint(1, 300)}号"
    street, community = rng.choice(people["streets"]), rng.choice(people["communities"])
    building, unit = rng.randint(1, 30), rng.randint(1, 6)
    room = f"{rng.randint(1, 18)}{rng.randint(1, 4):02d}"
    return f"{area}{street}{rng.randint(1, 200)}号{community}{building}号楼{unit}单元{room}"


def roster(rng: random.Random, mix: CaseMix) -> Roster:
    """The staff of the fictional hospital, drawn once per seed."""
    size = mix.people["staff"]
    area = mix.hospital["fixmedins_code"][1:7]
    used: set[str] = set()

    def member() -> Staff:
        code = f"D{area}{rng.randrange(10**5):05d}"
        while code in used:
            code = f"D{area}{rng.randrange(10**5):05d}"
        used.add(code)
        return Staff(full_name(rng, mix, rng.choice(["1", "2"])), code)

    depts = sorted({s.caty for s in mix.scenarios})
    doctors = {caty: tuple(member() for _ in range(size["doctors_per_dept"])) for caty in depts}
    return Roster(
        doctors=doctors,
        anaesthetists=tuple(member() for _ in range(size["anaesthetists"])),
        coders=tuple(member() for _ in range(size["coders"])),
    )
