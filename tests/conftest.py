"""Fixtures shared by every kind of test.

``../shared`` (beside the checkout) holds public real-world files that stay there; a user's clone
has none, so tests that need them skip and say why. Tests of GAS's own behaviour make their input
(``tests/inputs.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.inputs import small_vcf

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
TRUTH = SAMPLES.parent / "truth"
BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """How `make test` spreads the suite over pytest-xdist workers (``--dist loadgroup``).

    A module stays on one worker, since its fixtures are often costly (a stack, a private cloud);
    the browser tests share one worker, one dashboard and one Chromium. Modules marked ``slow``
    (minutes each: they restart whole clouds or wait out retentions) are handed out first, so the
    run does not end waiting on one of them.
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            path = Path(item.path)
            group = "browser" if BROWSER_TESTS in path.parents else str(path)
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def samples() -> Path:
    """The real VCF files researchers upload (``../shared/samples``); skips when absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"real sample VCFs are not beside this checkout ({SAMPLES} is absent)")
    return SAMPLES


@pytest.fixture(scope="session")
def truth() -> Path:
    """Public VCFs annotated by established tools (``../shared/truth``); skips when absent."""
    if not TRUTH.is_dir():
        pytest.skip(f"the truth VCFs are not beside this checkout ({TRUTH} is absent)")
    return TRUTH


@pytest.fixture(scope="session")
def vcf() -> bytes:
    """A small VCF of GAS's own making (``tests.inputs.SMALL_VCF_VARIANTS`` records)."""
    return small_vcf()
