"""The genome builds GAS annotates: the one declaration every layer reads (the engine's bundles,
settings, the API and its OpenAPI document, the command line, the workflow input schemas, the
browser's outbound links). Standard library only, so the web process imports it without numpy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Build:
    name: str
    ensembl_url: str  # the Ensembl site for this assembly (outbound links only)
    gnomad_dataset: str  # gnomAD's dataset of this assembly (outbound links only)


BUILDS: tuple[Build, ...] = (
    Build("GRCh38", "https://www.ensembl.org", "gnomad_r4"),
    Build("GRCh37", "https://grch37.ensembl.org", "gnomad_r2_1"),
)
NAMES: tuple[str, ...] = tuple(build.name for build in BUILDS)
DEFAULT = "GRCh38"
# What a researcher may ask for: a build, or "auto" (read it from the file's header).
AUTO = "auto"
REQUESTABLE: tuple[str, ...] = (AUTO, *NAMES)
BY_NAME = {build.name: build for build in BUILDS}


def of(name: str | None) -> Build:
    """The build ``name`` names, or the default build for anything else (an old job's None)."""
    return BY_NAME.get(name or "", BY_NAME[DEFAULT])


def spoken(names: tuple[str, ...] = NAMES) -> str:
    """``GRCh38 or GRCh37``: the builds in a sentence."""
    return " or ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " or " + names[-1]
