"""Face-sheet items drawn after the core case: contact address, employer, 门（急）诊诊断.

They come from their own random stream per case (``hutong-synthetic/{seed}/homepage/{i}``),
never from the case's stream, so adding them left every value drawn before them unchanged: the
shipped samples and the mappings made from them keep their contents. Data: ``homepage.toml``.
"""

from __future__ import annotations

import random
import tomllib
from functools import cache
from importlib import resources

from hutong.synthetic.casemix import CaseMix
from hutong.synthetic.draw import chance, weighted
from hutong.synthetic.people import address

NONE = "-"  # 无内容填“-” (国卫办医发〔2016〕24号 附件1)


@cache
def items() -> dict:
    """The tables of ``homepage.toml``."""
    text = resources.files("hutong.synthetic").joinpath("homepage.toml").read_text("utf-8")
    return tomllib.loads(text)


def stream(seed: int, i: int) -> random.Random:
    """The random stream of case ``i``'s face-sheet items, apart from the case's own."""
    return random.Random(f"hutong-synthetic/{seed}/homepage/{i}")


def add_items(rng: random.Random, mix: CaseMix, case: dict) -> None:
    """Fill the contact address, employer and outpatient diagnosis of ``case`` in place."""
    patient, encounter = case["patient"], case["encounter"]
    patient["coner_addr"] = _contact_address(rng, mix, patient)
    patient.update(_employer(rng, mix, patient["prfs"]))
    name, code = _outpatient(rng, encounter["adm_way"], case["diagnoses"][0])
    encounter["otp_wm_dise"], encounter["otp_wm_dise_code"] = name, code


def _area(rng: random.Random, mix: CaseMix) -> dict:
    areas = mix.people["areas"]
    return areas[weighted(rng, {k: a["weight"] for k, a in enumerate(areas)})]


def _contact_address(rng: random.Random, mix: CaseMix, patient: dict) -> str:
    """The patient's own address when they live together (as HIS clerks copy it), else another."""
    same = items()["contact_same_address"].get(patient["patn_rlts"], 0.2)
    if chance(rng, same):
        return patient["curr_addr"]
    return address(rng, mix, _area(rng, mix)["name"])


def _employer(rng: random.Random, mix: CaseMix, prfs: str) -> dict:
    """单位名称, 地址 and 电话 for an employed occupation, '-' for everyone else."""
    names = items()["employers"].get(prfs)
    if not names:
        return {"emp_name": NONE, "emp_addr": NONE, "emp_tel": NONE}
    area = _area(rng, mix)
    street = rng.choice(mix.people["streets"])
    prefix, digits = items()["landline"][area["code"][:4]]
    name, house = rng.choice(names), rng.randint(1, 300)
    local = rng.randint(2, 8) * 10 ** (digits - 1) + rng.randrange(10 ** (digits - 1))
    return {
        "emp_name": name,
        "emp_addr": f"{area['name']}{street}{house}号",
        "emp_tel": f"{prefix}-{local}",
    }


def _outpatient(rng: random.Random, adm_way: str, main: dict) -> tuple[str | None, str | None]:
    """门（急）诊诊断 (name, code) of a stay admitted via the clinic or emergency room.

    Mostly the main discharge diagnosis itself, otherwise its less specific form or the
    presenting symptom listed for its category; none for a transfer or other admission.
    """
    spec = items()["outpatient"]
    if adm_way not in spec["adm_ways"]:
        return None, None
    clinic = spec["clinic"].get(main["code"][:3], [])
    if not clinic or chance(rng, spec["same"]):
        return main["name"], main["code"]
    code, name = rng.choice(clinic).split(" ", 1)
    return name, code
