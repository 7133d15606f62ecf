"""What processors.safety costs per returned file, on a real unit template.

    .venv/bin/python bench/safety_cost.py

Writes the small test campaign's templates with the project's own template writer, then
times inspect_bytes (the check alone) and inspect_container (open, read, hash, check) on
one of them. Reports the minimum over repeats, the usual way to time on a shared machine:
the minimum is the cost, the rest is other people's load.
"""

from __future__ import annotations

import sys
import tempfile
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import SMALL_CAMPAIGN_YAML  # noqa: E402

from forms.plan_yaml import load_yaml  # noqa: E402
from forms.template_writer import write_template  # noqa: E402
from processors.safety import inspect_bytes, inspect_container  # noqa: E402


def time_per_call(function, number: int = 200, repeat: int = 15) -> float:
    """Seconds per call: the minimum over `repeat` batches of `number` calls."""
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number


def main() -> None:
    """Print the per-file cost of the safety check on a real template."""
    with tempfile.TemporaryDirectory() as folder:
        plan = Path(folder) / "ke_hoach.yaml"
        plan.write_text(SMALL_CAMPAIGN_YAML, encoding="utf-8")
        campaign = load_yaml(plan)
        unit = next(u for u in campaign.units if u.code == "XA_DAI")
        path = write_template(campaign, unit, Path(folder) / "XA_DAI.xlsx", b"k" * 32)
        data = path.read_bytes()
        report = inspect_container(path)
        assert report.ok, report.finding
        check = time_per_call(lambda: inspect_bytes(data, path.name))
        whole = time_per_call(lambda: inspect_container(path))
    print(f"template: {len(data):,} bytes")
    print(f"inspect_bytes:     {check * 1e6:7.0f} µs per file")
    print(f"inspect_container: {whole * 1e6:7.0f} µs per file (open, read, hash, check)")
    print(f"10,000 files, one core: {whole * 10_000:.1f} s")


if __name__ == "__main__":
    main()
