"""Regenerate every sample's ke_hoach.xlsx from its ke_hoach.yaml (run after editing a YAML).

    .venv/bin/python samples/make_workbooks.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from forms.findings import DefinitionError
from forms.plan_workbook import write_plan_workbook
from forms.plan_yaml import load_yaml

SAMPLES = Path(__file__).resolve().parent


def make_workbooks() -> int:
    """Write samples/<name>/ke_hoach.xlsx for every samples/<name>/ke_hoach.yaml; 2 if one is refused."""
    status = 0
    for source in sorted(SAMPLES.glob("*/ke_hoach.yaml")):
        try:
            campaign = load_yaml(source)
        except DefinitionError as err:
            print(err.describe(), file=sys.stderr)
            status = 2
            continue
        target = write_plan_workbook(source.with_suffix(".xlsx"), campaign)
        print(f"{target.relative_to(SAMPLES)}: {len(campaign.units)} đơn vị, {len(campaign.indicators)} chỉ tiêu, "
              f"{len(campaign.targets)} dòng giao chỉ tiêu, {len(campaign.schedule)} kỳ báo cáo")
    return status


if __name__ == "__main__":
    raise SystemExit(make_workbooks())
