"""Contract: every command, every option and every defined name a template exposes is documented in README.md.

The commands and options come from the real parser (``processors.cli.build_parser``); the
defined names from real templates written for the test campaign (which has every indicator
kind). A name that carries an indicator code is documented once as a pattern:
``NHAP_<mã chỉ tiêu>``, ``CHON_<mã chỉ tiêu>``. Each command has its own README section
headed «### `chitieu LỆNH …`»; its options and positional arguments must appear there.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import openpyxl
import pytest

from forms.schema import Campaign
from forms.template_writer import write_templates
from processors.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"
KEY = bytes(range(32))
# Defined names that end in an indicator code, documented once as a pattern.
CODE_PATTERNS = ("NHAP_", "CHON_")
PATTERN_PLACEHOLDER = "<mã chỉ tiêu>"
HEADING = re.compile(r"^### `chitieu ([a-z][a-z-]*)[^`]*`", re.MULTILINE)


def readme() -> str:
    return README.read_text(encoding="utf-8")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """Every ``chitieu`` subcommand and its parser."""
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def documented_words(parser: argparse.ArgumentParser) -> list[str]:
    """What a command's README section must show: each option string, and each positional by its metavar."""
    words = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            words += action.option_strings
        else:
            words.append(action.metavar or action.dest)
    return words


def sections(text: str) -> dict[str, str]:
    """README's command sections: command -> its text, from its heading to the next heading."""
    found = {}
    matches = list(HEADING.finditer(text))
    for match in matches:
        end = re.compile(r"^#{1,3} ", re.MULTILINE).search(text, match.end())
        found[match[1]] = text[match.start() : end.start() if end else len(text)]
    return found


def test_every_command_has_its_section() -> None:
    documented = sections(readme())
    missing = sorted(set(subcommands()) - set(documented))
    assert not missing, f"README.md has no section «### `chitieu LỆNH …`» for: {', '.join(missing)}"


def test_no_section_documents_a_command_that_does_not_exist() -> None:
    stale = sorted(set(sections(readme())) - set(subcommands()))
    assert not stale, f"README.md documents commands chitieu does not have: {', '.join(stale)}"


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_option_of_a_command_is_in_its_section(command: str) -> None:
    section = sections(readme()).get(command, "")
    missing = [word for word in documented_words(subcommands()[command]) if f"`{word}" not in section]
    assert not missing, f"README.md, section «chitieu {command}», does not mention: {', '.join(missing)}"


def documented_name(name: str) -> str:
    """How README shows a defined name: literally, or as a pattern when it carries an indicator code."""
    for prefix in CODE_PATTERNS:
        if name.startswith(prefix):
            return prefix + PATTERN_PLACEHOLDER
    return name


@pytest.fixture
def template_names(small_campaign: Campaign, tmp_path: Path) -> set[str]:
    """Every workbook-level defined name of the test campaign's templates (every unit, every indicator kind)."""
    names: set[str] = set()
    for path in write_templates(small_campaign, tmp_path / "mau_bieu", KEY, processes=1):
        names |= set(openpyxl.load_workbook(path).defined_names)
    return names


def test_the_templates_have_the_kinds_of_names_the_contract_expects(template_names: set[str]) -> None:
    assert {"KY_BAO_CAO", "MA_DON_VI"} <= template_names
    for prefix in CODE_PATTERNS:
        assert any(n.startswith(prefix) for n in template_names), prefix


def test_every_defined_name_of_a_template_is_in_the_readme(template_names: set[str]) -> None:
    text = readme()
    missing = sorted({documented_name(n) for n in template_names if f"`{documented_name(n)}`" not in text})
    assert not missing, f"README.md does not document the template's defined names: {', '.join(missing)}"


def test_quick_start_holds_exactly_the_two_commands() -> None:
    """«Bắt đầu nhanh»: one command sets up and runs the demo, one sets up and runs every test (.ci/run)."""
    text = readme()
    start = text.index("\n## Bắt đầu nhanh\n")
    section = text[start : text.index("\n## ", start + 1)]
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert commands == [
        "python3.11 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/chitieu demo",
        "bash .ci/run",
    ]
