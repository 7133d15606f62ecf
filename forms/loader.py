"""Loading a campaign definition from whichever form it is in (workbook or YAML)."""

from __future__ import annotations

from pathlib import Path

from forms.findings import DefinitionError, Finding
from forms.plan_workbook import load_plan_workbook
from forms.plan_yaml import load_yaml
from forms.schema import Campaign

WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm"})
YAML_SUFFIXES = frozenset({".yaml", ".yml"})


def load_campaign(path: Path | str) -> Campaign:
    """Load ``ke_hoach.xlsx`` or a YAML definition; raise DefinitionError listing every mistake."""
    path = Path(path)
    if not path.is_file():
        raise DefinitionError(
            path.name,
            [Finding(code="missing_file", message=f"Không tìm thấy tệp «{path}».", hint="kiểm tra lại đường dẫn.")],
        )
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        return load_plan_workbook(path)
    if suffix in YAML_SUFFIXES:
        return load_yaml(path)
    raise DefinitionError(
        path.name,
        [
            Finding(
                code="unsupported_format",
                message=f"Không đọc được định dạng «{suffix or 'không có đuôi'}».",
                hint="dùng tệp ke_hoach.xlsx (tạo bằng «chitieu new-plan») hoặc tệp .yaml.",
            )
        ],
    )
