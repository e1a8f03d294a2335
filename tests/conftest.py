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


@pytest.fixture(scope="session")
def samples() -> Path:
    """The real VCF files researchers upload (``../shared/samples``); skips when absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"real sample VCFs are not beside this checkout ({SAMPLES} is absent)")
    return SAMPLES


@pytest.fixture(scope="session")
def vcf() -> bytes:
    """A small VCF of GAS's own making (``tests.inputs.SMALL_VCF_VARIANTS`` records)."""
    return small_vcf()
