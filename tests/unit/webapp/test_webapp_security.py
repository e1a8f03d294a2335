"""Redirect targets after login and the upload's file-name check."""

from __future__ import annotations

import pytest

from webapp.security import safe_next
from workflows.uploads import filename_problem


@pytest.mark.parametrize("target", ["/annotations", "/annotations/abc?x=1", "/profile"])
def test_paths_on_this_site_are_kept(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "annotations",
        "/ok\r\nSet-Cookie: x=1",
    ],
)
def test_anything_else_is_dropped(target: str | None) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize("name", ["sample.vcf", "SAMPLE.VCF", "calls.vcf.gz", "calls.vcf.bgz"])
def test_vcf_names_are_accepted(name: str) -> None:
    assert filename_problem(name) is None


@pytest.mark.parametrize("name", ["notes.txt", "calls.vcf.zip", "vcf", "calls.gz"])
def test_other_names_are_refused_with_a_reason(name: str) -> None:
    problem = filename_problem(name)
    assert problem and "not a VCF file" in problem


def test_no_name_asks_for_a_file() -> None:
    assert filename_problem("") == "Choose a VCF file to upload."
