"""The YAML form of a campaign definition, equivalent to ``ke_hoach.xlsx``."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any

import yaml

from forms.definition import SECTION_SHEETS, RawCell, RawDefinition, RawRow, build_campaign
from forms.findings import DefinitionError, Finding
from forms.plan_rows import campaign_rows
from forms.schema import Campaign

SECTIONS = ("units", "indicators", "targets", "periods")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PERCENT_KEYS = frozenset({"rate", "score_rate_cap"})


def _key_lines(node: Any) -> dict[str, int]:
    """Line (1-based) of each key of a YAML mapping node, so findings name the line."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _v in node.value}


def _raw_row(sheet: str, item: dict[str, Any], node: Any) -> RawRow:
    lines = _key_lines(node)
    row = RawRow(sheet=sheet, row=node.start_mark.line + 1 if node is not None else None)
    for key, value in item.items():
        line = lines.get(str(key), row.row)
        if key == "attributes" and isinstance(value, dict):
            for code, amount in value.items():
                row.cells[f"attr:{code}"] = RawCell(amount, line, f"attributes.{code}")
        else:
            if isinstance(value, list):
                value = "; ".join(str(v) for v in value)
            row.cells[str(key)] = RawCell(value, line, str(key))
    return row


def _section_nodes(root: Any) -> dict[str, Any]:
    if not isinstance(root, yaml.MappingNode):
        return {}
    return {str(k.value): v for k, v in root.value}


def read_yaml(path: Path) -> RawDefinition:
    """Read a YAML definition into raw rows; unreadable YAML gives one finding."""
    name = Path(path).name
    try:
        text = Path(path).read_text(encoding="utf-8")
        # Parse once (libyaml when present: ten times faster on a 10,000-unit plan) and keep the
        # node tree, whose marks give each finding its line.
        root = yaml.compose(text, Loader=_LOADER)
        data = (_LOADER("").construct_document(root) if root is not None else None) or {}
        nodes = _section_nodes(root)
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        mark = getattr(err, "problem_mark", None)
        finding = Finding(
            code="bad_yaml",
            message=f"Tệp YAML không đọc được: {err}",
            row=mark.line + 1 if mark else None,
            hint="kiểm tra thụt lề và dấu «:».",
        )
        return RawDefinition(source=name, info=RawRow(SECTION_SHEETS["info"], None), findings=[finding])
    if not isinstance(data, dict):
        data = {}
        nodes = {}
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    raw = RawDefinition(source=name, info=_raw_row(SECTION_SHEETS["info"], info, nodes.get("info")))
    raw.attributes = {str(k): str(v) for k, v in (data.get("attributes") or {}).items()}
    for section in SECTIONS:
        items = data.get(section) or []
        item_nodes = nodes[section].value if isinstance(nodes.get(section), yaml.SequenceNode) else [None] * len(items)
        rows = [
            _raw_row(SECTION_SHEETS[section], item, node)
            for item, node in zip(items, item_nodes, strict=False)
            if isinstance(item, dict)
        ]
        setattr(raw, section, rows)
    return raw


def load_yaml(path: Path) -> Campaign:
    """Load and check a YAML definition; raise DefinitionError listing every mistake."""
    return build_campaign(read_yaml(path))


def _plain(value: Any) -> Any:
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value


def dump_yaml(campaign: Campaign) -> str:
    """The campaign as YAML text that ``load_yaml`` reads back to the same campaign."""
    rows = campaign_rows(campaign)
    info = {k: _plain(v) for k, v in rows["info"].items() if v not in (None, "")}
    info["score_rate_cap"] = f"{info['score_rate_cap'] * 100:g}%"
    out: dict[str, Any] = {"info": info}
    if rows["attributes"]:
        out["attributes"] = rows["attributes"]
    for section in SECTIONS:
        items = []
        for row in rows[section]:
            item: dict[str, Any] = {}
            attrs = {}
            for key, value in row.items():
                if value is None:
                    continue
                if key.startswith("attr:"):
                    attrs[key[5:]] = value
                elif key in PERCENT_KEYS:
                    item[key] = f"{value * 100:g}%"
                else:
                    item[key] = _plain(value)
            if attrs:
                item["attributes"] = attrs
            items.append(item)
        out[section] = items
    return yaml.safe_dump(out, allow_unicode=True, sort_keys=False, width=120)


def write_yaml(campaign: Campaign, path: Path) -> Path:
    """Write the campaign as YAML to ``path``."""
    Path(path).write_text(dump_yaml(campaign), encoding="utf-8")
    return Path(path)


__all__ = ["DefinitionError", "dump_yaml", "load_yaml", "read_yaml", "write_yaml"]
