"""Fixtures shared by every kind of test."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


@pytest.fixture(scope="session")
def samples() -> Path:
    """The real VCF files researchers upload (shared/samples beside the checkout)."""
    if not SAMPLES.is_dir():
        pytest.fail(f"sample VCFs not found at {SAMPLES}")
    return SAMPLES
