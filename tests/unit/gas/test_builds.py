"""Genome builds are declared once (gas.builds); every other list of them is read from there or
held to it here."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gas import builds
from gas.definitions import DEFINITIONS_DIR
from gas.settings import Settings, SettingsError


def _build_enums(node: Any) -> list[list[str]]:
    """Every ``build`` property's enum in a JSON Schema."""
    found = []
    if isinstance(node, dict):
        prop = node.get("properties", {}).get("build")
        if isinstance(prop, dict) and "enum" in prop:
            found.append(prop["enum"])
        for value in node.values():
            found += _build_enums(value)
    elif isinstance(node, list):
        for value in node:
            found += _build_enums(value)
    return found


@pytest.mark.parametrize("name", ["annotate.input", "annotation-job.input"])
def test_the_workflow_input_schemas_offer_the_declared_builds(name: str) -> None:
    schema = json.loads((DEFINITIONS_DIR / "schemas" / f"{name}.schema.json").read_text())
    assert _build_enums(schema) == [list(builds.REQUESTABLE)]


def test_the_openapi_document_offers_the_declared_builds() -> None:
    from webapp import api_spec

    text = json.dumps(api_spec.document())
    assert text.count(json.dumps(list(builds.REQUESTABLE))) >= 2
    assert '"GRCh36"' not in text


def test_the_engine_and_the_command_line_read_the_declaration() -> None:
    from annotator import bundle
    from cli import annotator_commands, client_commands

    assert bundle.BUILDS == builds.NAMES
    assert client_commands.BUILDS == builds.REQUESTABLE
    assert tuple(annotator_commands.BUILD_CHOICE.choices) == builds.NAMES


def test_the_default_build_setting_is_one_of_them() -> None:
    assert Settings().default_build == builds.DEFAULT
    with pytest.raises(SettingsError, match="GRCh38 or GRCh37"):
        Settings.from_env({"GAS_DEFAULT_BUILD": "hg19", "GAS_CLOUD": "local"})


def test_an_unknown_build_links_to_the_default_builds_sites() -> None:
    assert builds.of(None) == builds.of("hg19") == builds.BY_NAME[builds.DEFAULT]


def test_the_engines_per_build_tables_cover_exactly_the_declared_builds() -> None:
    from annotator import downloads, vcf

    assert tuple(downloads.DEFAULT_SOURCES) == builds.NAMES
    # NCBI36 is recognised only to be refused.
    assert tuple(b for b in vcf.BUILD_TOKENS if b != "NCBI36") == builds.NAMES
    assert set(builds.NAMES) <= set(vcf.CONTIG_LENGTHS)
