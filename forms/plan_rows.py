"""A campaign as plain rows per section: the inverse of ``build_campaign``.

Both writers (``ke_hoach.xlsx`` and YAML) start from these rows, so a definition written
out and read back gives the same campaign.
"""

from __future__ import annotations

from typing import Any

from forms.schema import WEEKDAYS_VI, Campaign, IndicatorKind, Period, PeriodSeries

Row = dict[str, Any]


def _label(member: Any) -> Any:
    return None if member is None else member.label


def _join(items) -> str | None:
    return "; ".join(str(i) for i in items) or None


def info_row(campaign: Campaign) -> Row:
    """The general information as a row keyed like INFO_COLUMNS."""
    return campaign.info.model_dump()


def unit_rows(campaign: Campaign) -> list[Row]:
    """One row per unit; attributes under ``attr:<code>``."""
    rows = []
    for u in campaign.units:
        row = {
            "code": u.code,
            "name": u.name,
            "parent": u.parent,
            "level": _label(u.level),
            "kind": _label(u.kind),
            "reports": u.reports,
            "contact": u.contact or None,
            "phone": u.phone or None,
            "email": u.email or None,
        }
        row.update({f"attr:{k}": v for k, v in u.attributes.items()})
        rows.append(row)
    return rows


def indicator_rows(campaign: Campaign) -> list[Row]:
    """One row per indicator, lists joined with ``;``."""
    rows = []
    for i in campaign.indicators:
        rows.append(
            {
                "code": i.code,
                "name": i.name,
                "measure": i.measure or None,
                "kind": None if i.kind is IndicatorKind.COUNT else i.kind.label,
                "cumulative": i.cumulative,
                "parts": _join(i.parts),
                "numerator": i.numerator,
                "denominator": i.denominator,
                "minimum": i.minimum,
                "maximum": i.maximum,
                "relations": _join(r.text() for r in i.relations),
                "choices": _join(i.choices),
                "levels": _join(lv.label for lv in i.levels),
                "targeted_only": i.targeted_only or None,
                "weight": i.weight or None,
                "coordinating": i.coordinating or None,
                "note": i.note or None,
            }
        )
    return rows


def target_rows(campaign: Campaign) -> list[Row]:
    """One row per target; ``rate`` stays a fraction (writers format it as a percentage)."""
    return [
        {
            "unit": t.unit,
            "indicator": t.indicator,
            "level": _label(t.level),
            "kind": _label(t.kind),
            "value": t.value,
            "daily": t.daily,
            "rate": t.rate,
            "due": t.due,
            "note": t.note or None,
        }
        for t in campaign.targets
    ]


def period_rows(campaign: Campaign) -> list[Row]:
    """Listed periods and series rules, in definition order (listed first)."""
    rows: list[Row] = [_listed(p) for p in campaign.periods]
    rows += [_series(s) for s in campaign.series]
    return rows


def _listed(p: Period) -> Row:
    local = p.deadline
    return {
        "code": p.code,
        "label": p.label,
        "start": p.start,
        "end": p.end,
        "deadline_date": local.date(),
        "deadline_time": local.time().replace(tzinfo=None),
        "note": p.note or None,
    }


def _series(s: PeriodSeries) -> Row:
    return {
        "code": s.code_prefix,
        "label": s.label_prefix,
        "start": s.start,
        "end": s.end,
        "deadline_time": s.deadline_time,
        "frequency": s.frequency.label,
        "deadline_weekday": None if s.deadline_weekday is None else WEEKDAYS_VI[s.deadline_weekday],
        "deadline_days_after": s.deadline_days_after or None,
        "note": s.note or None,
    }


def campaign_rows(campaign: Campaign) -> dict[str, Any]:
    """Every section of the campaign as rows."""
    return {
        "info": info_row(campaign),
        "attributes": dict(campaign.attributes),
        "units": unit_rows(campaign),
        "indicators": indicator_rows(campaign),
        "targets": target_rows(campaign),
        "periods": period_rows(campaign),
    }
