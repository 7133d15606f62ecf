"""The quota schema: a campaign's units, indicators, targets and reporting periods.

These pydantic models are the validated shape every other part of chitieu relies on. They
are built by ``forms.definition.build_campaign`` from a workbook or YAML, which reports
every mistake with its place; the models' own validators are a second line of defence.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CODE_RE = re.compile(r"^[A-Za-z0-9_]+$")


class LabeledEnum(StrEnum):
    """An enum whose members carry the Vietnamese label people type and read."""

    label: str

    def __new__(cls, value: str, label: str):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label
        return obj


class Level(LabeledEnum):
    """Where a unit stands: a place in the hierarchy or a body that is not a place."""

    TINH = ("tinh", "tỉnh")
    HUYEN = ("huyen", "huyện")
    XA = ("xa", "xã")
    THON = ("thon", "thôn")
    SO = ("so", "sở")
    BAN = ("ban", "ban")
    NGANH = ("nganh", "ngành")
    DOAN_THE = ("doan_the", "đoàn thể")
    TRUONG_HOC = ("truong_hoc", "trường học")
    CO_QUAN = ("co_quan", "cơ quan")
    KHAC = ("khac", "khác")


class UnitKind(LabeledEnum):
    """The kind of a place, which some rate targets depend on (xã / phường / thị trấn)."""

    XA = ("xa", "xã")
    PHUONG = ("phuong", "phường")
    THI_TRAN = ("thi_tran", "thị trấn")
    HUYEN = ("huyen", "huyện")
    THI_XA = ("thi_xa", "thị xã")
    THANH_PHO = ("thanh_pho", "thành phố")
    THON = ("thon", "thôn / ấp / khóm")
    KHAC = ("khac", "khác")


class IndicatorKind(LabeledEnum):
    """What an indicator's value is and how a clerk enters it."""

    COUNT = ("count", "số lượng")
    SUM = ("sum", "tổng tính")
    RATIO = ("ratio", "tỷ lệ tính")
    PERCENT = ("percent", "phần trăm")
    YES_NO = ("yes_no", "có/không")
    STATUS = ("status", "trạng thái")
    TEXT = ("text", "văn bản")


class Frequency(LabeledEnum):
    """How a generated series of periods repeats."""

    DAILY = ("daily", "hằng ngày")
    WEEKLY = ("weekly", "hằng tuần")
    MONTHLY = ("monthly", "hằng tháng")


class RelationOp(LabeledEnum):
    """Comparison between two indicators of the same return."""

    LE = ("<=", "≤")
    GE = (">=", "≥")
    EQ = ("=", "=")


NUMERIC_KINDS = frozenset({IndicatorKind.COUNT, IndicatorKind.SUM, IndicatorKind.PERCENT, IndicatorKind.RATIO})
COMPUTED_KINDS = frozenset({IndicatorKind.SUM, IndicatorKind.RATIO})
WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


def format_date(value: date) -> str:
    """Vietnamese date, dd/mm/yyyy."""
    return value.strftime("%d/%m/%Y")


def format_deadline(value: datetime) -> str:
    """Vietnamese deadline with its time, e.g. ``09:00 Thứ Sáu 02/06/2023``."""
    local = value.astimezone(TZ)
    return f"{local:%H:%M} {WEEKDAYS_VI[local.weekday()]} {local:%d/%m/%Y}"


class Model(BaseModel):
    """Base of every schema model: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


def _check_code(value: str) -> str:
    if not CODE_RE.match(value):
        raise ValueError("code must be ASCII letters, digits and underscores")
    return value


class CampaignInfo(Model):
    """General information: what the campaign is and who coordinates it."""

    code: str
    name: str
    document_number: str = ""
    document_date: date | None = None
    issuer: str = ""
    coordinator: str = ""
    legal_basis: str = ""
    start: date
    end: date
    template_version: int = Field(default=1, ge=1)
    late_days: int = Field(default=7, ge=0)
    score_rate_cap: float = Field(default=1.0, gt=0)

    _code = field_validator("code")(_check_code)

    @model_validator(mode="after")
    def _end_after_start(self) -> CampaignInfo:
        if self.end < self.start:
            raise ValueError("end before start")
        return self

    @property
    def document_ref(self) -> str:
        """The issuing document as cited, e.g. ``Kế hoạch số 142/KH-UBND ngày 14/07/2023``."""
        if not self.document_number:
            return ""
        text = f"Kế hoạch số {self.document_number}"
        if self.document_date:
            text += f" ngày {format_date(self.document_date)}"
        if self.issuer:
            text += f" của {self.issuer}"
        return text


class Unit(Model):
    """A reporting unit: a place or a body, with contact and base attributes."""

    code: str
    name: str
    parent: str | None = None
    level: Level
    kind: UnitKind | None = None
    reports: bool = True
    contact: str = ""
    phone: str = ""
    email: str = ""
    attributes: dict[str, float] = Field(default_factory=dict)

    _code = field_validator("code")(_check_code)


class Relation(Model):
    """A rule between two indicators of one return, e.g. ``TK_MUC2 <= TK_TONG``."""

    left: str
    op: RelationOp
    right: str

    def holds(self, left: float, right: float) -> bool:
        """True when the rule holds for these two values."""
        if self.op is RelationOp.LE:
            return left <= right
        if self.op is RelationOp.GE:
            return left >= right
        return left == right

    def text(self) -> str:
        """The rule as written in the definition, e.g. ``<= TK_TONG``."""
        return f"{self.op.value} {self.right}"


class Indicator(Model):
    """What units report: a count, a computed ratio, a percentage, yes/no, a status or text."""

    code: str
    name: str
    measure: str = ""
    kind: IndicatorKind = IndicatorKind.COUNT
    cumulative: bool = False
    numerator: str | None = None
    denominator: str | None = None
    parts: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    relations: tuple[Relation, ...] = ()
    choices: tuple[str, ...] = ()
    levels: tuple[Level, ...] = ()
    targeted_only: bool = False
    weight: float = Field(default=0.0, ge=0)
    coordinating: str = ""
    note: str = ""

    _code = field_validator("code")(_check_code)

    @model_validator(mode="after")
    def _kind_fields(self) -> Indicator:
        if self.kind is IndicatorKind.RATIO and not (self.numerator and self.denominator):
            raise ValueError("a ratio needs a numerator and a denominator")
        if self.kind is IndicatorKind.SUM and not self.parts:
            raise ValueError("a sum needs its parts")
        if self.kind is IndicatorKind.STATUS and not self.choices:
            raise ValueError("a status needs choices")
        return self

    @property
    def is_input(self) -> bool:
        """True when a clerk types the value (sums and ratios are computed by formula)."""
        return self.kind not in COMPUTED_KINDS

    def operands(self) -> tuple[str, ...]:
        """Codes a computed indicator is made from (indicators or unit attributes)."""
        if self.kind is IndicatorKind.SUM:
            return self.parts
        if self.kind is IndicatorKind.RATIO:
            return (self.numerator or "", self.denominator or "")
        return ()

    @property
    def is_numeric(self) -> bool:
        """True for counts, percentages and ratios."""
        return self.kind in NUMERIC_KINDS


class Target(Model):
    """A target: an absolute or daily quota for a unit, or a rate for a level and kind."""

    indicator: str
    unit: str | None = None
    level: Level | None = None
    kind: UnitKind | None = None
    value: float | None = Field(default=None, ge=0)
    daily: float | None = Field(default=None, ge=0)
    rate: float | None = Field(default=None, ge=0, le=1)
    due: date | None = None
    note: str = ""

    def specificity(self) -> int:
        """How precisely the target picks its units: unit > level and kind > level > all."""
        if self.unit:
            return 3
        return int(self.level is not None) + int(self.kind is not None)

    def applies_to(self, unit: Unit) -> bool:
        """True when this target is meant for ``unit``."""
        if self.unit:
            return self.unit == unit.code
        if self.level is not None and self.level != unit.level:
            return False
        return self.kind is None or self.kind == unit.kind


class Period(Model):
    """A reporting period: what dates it covers and when its report is due."""

    code: str
    label: str
    start: date
    end: date
    deadline: datetime
    note: str = ""

    _code = field_validator("code")(_check_code)

    @field_validator("deadline")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=TZ)

    @model_validator(mode="after")
    def _order(self) -> Period:
        if self.end < self.start:
            raise ValueError("period ends before it starts")
        if self.deadline < datetime.combine(self.start, time(0), TZ):
            raise ValueError("deadline before the period starts")
        return self

    def closes_at(self, late_days: int) -> datetime:
        """The moment after which a return for this period is refused as closed."""
        return self.deadline + timedelta(days=late_days)


class PeriodSeries(Model):
    """A rule that generates periods: every day, every week or every month in a range."""

    code_prefix: str
    label_prefix: str
    frequency: Frequency
    start: date
    end: date
    deadline_time: time = time(23, 59)
    deadline_weekday: int | None = Field(default=None, ge=0, le=6)
    deadline_days_after: int = Field(default=0, ge=0)
    note: str = ""

    _code = field_validator("code_prefix")(_check_code)

    def expand(self) -> list[Period]:
        """Every period of the series, in order."""
        periods: list[Period] = []
        for n, (first, last) in enumerate(_spans(self.frequency, self.start, self.end), 1):
            if self.frequency is Frequency.DAILY:
                code = f"{self.code_prefix}{first:%Y%m%d}"
                label = f"{self.label_prefix} {format_date(first)}"
            elif self.frequency is Frequency.WEEKLY:
                code = f"{self.code_prefix}{n:02d}"
                label = f"{self.label_prefix} {n:02d} ({first:%d/%m}–{format_date(last)})"
            else:
                code = f"{self.code_prefix}{first:%Y%m}"
                label = f"{self.label_prefix} {first:%m/%Y}"
            periods.append(
                Period(code=code, label=label, start=first, end=last, deadline=self._deadline(last), note=self.note)
            )
        return periods

    def _deadline(self, last: date) -> datetime:
        day = last + timedelta(days=self.deadline_days_after)
        if self.deadline_weekday is not None:
            # The first such weekday after the period ends: "09:00 every Friday".
            day = last + timedelta(days=1)
            day += timedelta(days=(self.deadline_weekday - day.weekday()) % 7)
        return datetime.combine(day, self.deadline_time, TZ)


def _spans(freq: Frequency, start: date, end: date) -> list[tuple[date, date]]:
    spans = []
    first = start
    while first <= end:
        if freq is Frequency.DAILY:
            last = first
        elif freq is Frequency.WEEKLY:
            last = first + timedelta(days=6)
        else:
            last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        last = min(last, end)
        spans.append((first, last))
        first = last + timedelta(days=1)
    return spans


class Campaign(Model):
    """A whole campaign: information, units, indicators, targets and periods."""

    info: CampaignInfo
    units: tuple[Unit, ...]
    indicators: tuple[Indicator, ...]
    targets: tuple[Target, ...] = ()
    periods: tuple[Period, ...] = ()
    series: tuple[PeriodSeries, ...] = ()
    attributes: dict[str, str] = Field(default_factory=dict)  # unit attribute code -> Vietnamese label

    @cached_property
    def unit_by_code(self) -> dict[str, Unit]:
        """Units keyed by code."""
        return {u.code: u for u in self.units}

    @cached_property
    def indicator_by_code(self) -> dict[str, Indicator]:
        """Indicators keyed by code."""
        return {i.code: i for i in self.indicators}

    @cached_property
    def schedule(self) -> tuple[Period, ...]:
        """Every reporting period, listed and generated, ordered by start then deadline."""
        every = list(self.periods)
        for s in self.series:
            every.extend(s.expand())
        return tuple(sorted(every, key=lambda p: (p.start, p.deadline, p.code)))

    @cached_property
    def period_by_code(self) -> dict[str, Period]:
        """Periods keyed by code."""
        return {p.code: p for p in self.schedule}

    @cached_property
    def period_by_label(self) -> dict[str, Period]:
        """Periods keyed by the label shown in a template's dropdown."""
        return {p.label: p for p in self.schedule}

    def reporting_units(self) -> list[Unit]:
        """Units that receive a template and report."""
        return [u for u in self.units if u.reports]

    def children(self, code: str) -> list[Unit]:
        """Units whose parent is ``code``."""
        return [u for u in self.units if u.parent == code]

    @cached_property
    def targets_by_indicator(self) -> dict[str, tuple[Target, ...]]:
        """Targets grouped by indicator code (looked up once per unit and indicator, often)."""
        grouped: dict[str, list[Target]] = {}
        for t in self.targets:
            grouped.setdefault(t.indicator, []).append(t)
        return {code: tuple(ts) for code, ts in grouped.items()}

    def target_for(self, unit: Unit, indicator: str) -> Target | None:
        """The most specific target of ``indicator`` that applies to ``unit``, if any."""
        best: Target | None = None
        for t in self.targets_by_indicator.get(indicator, ()):
            if t.applies_to(unit):
                if best is None or t.specificity() > best.specificity():
                    best = t
        return best

    def indicators_for(self, unit: Unit) -> list[Indicator]:
        """The indicators a unit reports, in definition order, with a ratio's operands."""
        targeted = {t.indicator for t in self.targets if t.applies_to(unit) and t.unit}
        chosen: set[str] = set()
        for ind in self.indicators:
            if ind.targeted_only:
                if ind.code in targeted:
                    chosen.add(ind.code)
            elif not ind.levels or unit.level in ind.levels:
                chosen.add(ind.code)
        frontier = list(chosen)
        while frontier:
            for code in self.indicator_by_code[frontier.pop()].operands():
                if code in self.indicator_by_code and code not in chosen:
                    chosen.add(code)
                    frontier.append(code)
        return [i for i in self.indicators if i.code in chosen]
