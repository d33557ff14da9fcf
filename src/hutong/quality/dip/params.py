"""DIP settlement parameters from a small TOML: point value, coefficients, outliers, classes.

A user's TOML only needs what differs from ``data/default-params.toml`` (outlier thresholds of
STANDARDS §5, hospital coefficient 1.0, no point value, procedure classes by ICD-9-CM-3 chapter):
each table given replaces the default's keys one by one; ``[procedure_classes]`` and
``[procedure_codes]`` replace the defaults wholesale when present.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

CONSERVATIVE, DIAGNOSTIC, THERAPEUTIC, SURGERY = "保守治疗", "诊断性操作", "治疗性操作", "相关手术"
# Rank of a treatment type: a case takes the highest of its procedures' classes.
TREATMENTS = {CONSERVATIVE: 0, DIAGNOSTIC: 1, THERAPEUTIC: 2, SURGERY: 3}
PROCEDURE_CODE = re.compile(r"^\d{2}\.[0-9x]{1,4}(x\d{3})?$")
RANGE = re.compile(r"^(\d{2}\.\d{2})-(\d{2}\.\d{2})$")
KNOWN = {
    "scoring": {"point_value", "hospital_coefficient"},
    "outliers": {"high", "low"},
}


class DipParamsError(ValueError):
    """A parameter TOML that cannot be used (the message names the file and the key)."""


def procedure_key(code: str) -> float | None:
    """Where an ICD-9-CM-3 code sits on the NN.NN axis ranges use (``x`` counts as 0)."""
    if not PROCEDURE_CODE.match(code):
        return None
    head = code[:5].ljust(5, "0").replace("x", "0")
    return float(head)


@dataclass(frozen=True)
class ProcedureRange:
    lo: float
    hi: float
    treatment: str
    text: str

    @property
    def span(self) -> float:
        return self.hi - self.lo


@dataclass
class DipParams:
    """Settlement parameters; ``point_value`` None means payments are not computed."""

    point_value: float | None = None  # 元 per score point (分值单价)
    hospital_coefficient: float = 1.0
    high: float = 2.0  # high outlier: cost > high × group average cost
    low: float = 0.5  # low outlier: cost < low × group average cost
    ranges: tuple[ProcedureRange, ...] = ()
    codes: dict[str, str] = field(default_factory=dict)  # exact code -> treatment type
    source: str = ""

    def procedure_class(self, code: str) -> str | None:
        """Treatment type of one procedure: exact code first, then the narrowest range."""
        if code in self.codes:
            return self.codes[code]
        key = procedure_key(code)
        if key is None:
            return None
        hits = [r for r in self.ranges if r.lo <= key <= r.hi]
        return min(hits, key=lambda r: r.span).treatment if hits else None


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DipParamsError(f"{path}: no such parameter file / 参数文件不存在") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DipParamsError(f"{path}: not valid TOML / TOML格式错误 ({exc})") from None


def _default() -> dict:
    text = resources.files("hutong.quality.dip").joinpath("data/default-params.toml")
    return tomllib.loads(text.read_text(encoding="utf-8"))


def _number(path, key, value, positive=True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DipParamsError(f"{path}: {key} must be a number / 须为数值 (got {value!r})")
    if positive and value <= 0:
        raise DipParamsError(f"{path}: {key} must be > 0 / 须大于0 (got {value!r})")
    return float(value)


def _treatment(path, key, value) -> str:
    if value not in TREATMENTS or value == CONSERVATIVE:
        allowed = ", ".join(t for t in TREATMENTS if t != CONSERVATIVE)
        raise DipParamsError(
            f"{path}: {key} = {value!r}: unknown procedure class / 未知手术操作类别 ({allowed})"
        )
    return value


def _ranges(path, table: dict) -> tuple[ProcedureRange, ...]:
    out = []
    for treatment, items in table.items():
        _treatment(path, f"procedure_classes.{treatment}", treatment)
        if not isinstance(items, list):
            raise DipParamsError(f"{path}: procedure_classes.{treatment} must be a list of ranges")
        for text in items:
            m = RANGE.match(str(text))
            if not m or float(m.group(1)) > float(m.group(2)):
                raise DipParamsError(
                    f"{path}: procedure_classes.{treatment}: bad range {text!r} "
                    "/ 范围格式应为 NN.NN-NN.NN"
                )
            out.append(ProcedureRange(float(m.group(1)), float(m.group(2)), treatment, text))
    return tuple(out)


def _codes(path, table: dict) -> dict[str, str]:
    out = {}
    for code, treatment in table.items():
        if not PROCEDURE_CODE.match(code):
            raise DipParamsError(
                f"{path}: procedure_codes: {code!r} is not an ICD-9-CM-3 code / 非手术操作编码"
            )
        out[code] = _treatment(path, f"procedure_codes.{code}", treatment)
    return out


def load_params(path: Path | None = None) -> DipParams:
    """Parameters from ``path`` over the shipped defaults (defaults alone when None)."""
    data = _default()
    where = "default-params.toml"
    if path is not None:
        user = _read(Path(path))
        where = str(path)
        for name, table in user.items():
            if name in ("procedure_classes", "procedure_codes"):
                data[name] = table
            elif name in KNOWN and isinstance(table, dict):
                unknown = set(table) - KNOWN[name]
                if unknown:
                    raise DipParamsError(
                        f"{path}: unknown key {name}.{sorted(unknown)[0]} / 未知参数"
                    )
                data[name] = {**data.get(name, {}), **table}
            else:
                raise DipParamsError(f"{path}: unknown table [{name}] / 未知参数表")
    scoring, outliers = data.get("scoring", {}), data.get("outliers", {})
    point = scoring.get("point_value")
    params = DipParams(
        point_value=None if point is None else _number(where, "scoring.point_value", point),
        hospital_coefficient=_number(
            where, "scoring.hospital_coefficient", scoring.get("hospital_coefficient", 1.0)
        ),
        high=_number(where, "outliers.high", outliers.get("high", 2.0)),
        low=_number(where, "outliers.low", outliers.get("low", 0.5)),
        ranges=_ranges(where, data.get("procedure_classes", {})),
        codes=_codes(where, data.get("procedure_codes", {})),
        source=where,
    )
    if not params.low < 1 < params.high:
        raise DipParamsError(
            f"{where}: outliers need low < 1 < high / 低倍率阈值须小于1、高倍率阈值须大于1 "
            f"(low {params.low:g}, high {params.high:g})"
        )
    return params
