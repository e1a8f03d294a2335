"""What a job's results look like on a page: the files with sizes, the variant browser's context,
the consequence chart and the share links. No routes: the owner's page (``annotations``) and a
share link's page (``result_pages``) both render from here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import (
    current_app,
    url_for,
)

from gas import models, result_kinds
from webapp.security import settings
from workflows import downloads, results, shares

# What the job page lists, in this order (gas.result_kinds'), for the kinds the job offers.
DOWNLOADABLE = result_kinds.names()
EXPORTS = {"tsv": "text/tab-separated-values", "vcf.gz": "application/gzip"}
TOP_GENES = 25
DATALIST_GENES = 200
# The consequence filter's choices, grouped by impact (the vocabulary is annotator.terms').
CONSEQUENCE_GROUPS = tuple(
    (impact, tuple(t for t in results.CONSEQUENCES if t.impact == impact))
    for impact in results.IMPACTS
)
IMPACT_OF = {t.name: t.impact for t in results.CONSEQUENCES}
# The browser's columns, left to right: what a variant does comes right after where it is (the
# TSV keeps its own order, new columns last).
SHOWN_COLUMNS = (
    "chrom",
    "pos",
    "id",
    "ref",
    "alt",
    "gene",
    "consequence",
    "impact",
    "pick_hgvsc",
    "pick_hgvsp",
    "gene_id",
    "region",
    "pick_gene",
    "pick_transcript",
    "pick_region",
    "pick_consequence",
    "pick_impact",
    "distance",
    "known_id",
)


# A source field's filter in the browser: the operators offered by kind, the default first
# (an empty value leaves the field unfiltered; a flag's "any" likewise).
SOURCE_OPS = {
    "numeric": (
        ("le", "≤"),
        ("lt", "<"),
        ("ge", "≥"),
        ("gt", ">"),
        ("eq", "="),
        ("ne", "≠"),
        ("has", "has a value"),
        ("missing", "has none"),
    ),
    "text": (
        ("contains", "contains"),
        ("is", "is"),
        ("not", "is not"),
        ("has", "has a value"),
        ("missing", "has none"),
    ),
    "flag": (("", "any"), ("has", "set"), ("missing", "not set")),
}


def source_filters(page: results.Page | None, query: results.VariantQuery) -> list[dict[str, Any]]:
    """One filter row per source column of the job: its operators and the query's choice."""
    if page is None:
        return []
    chosen: dict[str, tuple[str, str]] = {}
    for column, op, value in query.where:
        chosen.setdefault(column, (op, value))
    out = []
    for c in page.source_columns:
        kind = "flag" if c.kind == "flag" else "numeric" if c.numeric else "text"
        op, value = chosen.get(c.name, (SOURCE_OPS[kind][0][0], ""))
        out.append(
            {
                "name": c.name,
                "source": c.source,
                "description": c.description,
                "kind": kind,
                "ops": SOURCE_OPS[kind],
                "op": op,
                "value": value,
            }
        )
    return out


@dataclass(frozen=True)
class Links:
    """Where the results' links go: the owner's routes or a share link's."""

    prefix: str  # "annotations" (owner) or "shared"
    ident: dict[str, Any]  # url_for arguments: the job id, or the share token

    def page(self, **args: Any) -> str:
        endpoint = "annotations.job_page" if self.prefix == "annotations" else "shared.job_page"
        return url_for(endpoint, **self.ident, **args) + ("#variants" if args else "")

    def download(self, kind: str) -> str:
        endpoint = "annotations.download" if self.prefix == "annotations" else "shared.download"
        return url_for(endpoint, **self.ident, kind=kind)

    def export(self, fmt: str, args: Mapping[str, Any]) -> str:
        endpoint = "results.export" if self.prefix == "annotations" else "shared.export"
        return url_for(endpoint, **self.ident, fmt=fmt, **args)

    def genes(self) -> str:
        endpoint = "results.complete" if self.prefix == "annotations" else "shared.complete"
        return url_for(endpoint, **self.ident)


def owner_links(job: models.Job) -> Links:
    return Links("annotations", {"job_id": job.job_id})


def _size(value: Any) -> str:
    size = float(value)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def files_view(job: models.Job, links: Links) -> list[dict[str, Any]]:
    """The job's result files that exist, each with its label, link and size if recorded."""
    sizes = job.result_sizes.as_dict() if job.result_sizes else {}
    return [
        {
            "kind": kind,
            "label": result_kinds.get(kind).label,
            "url": links.download(kind),
            "size": _size(sizes[kind]) if kind in sizes else None,
        }
        for kind in downloads.offered(job)
    ]


def results_context(job: models.Job, args: Mapping[str, str], links: Links) -> dict[str, Any]:
    """Everything the results part of a job page shows (files, browser, gene summary)."""
    context: dict[str, Any] = {
        "links": links,
        "files": files_view(job, links),
        "browser": None,
        "browser_error": None,
        "top_genes": [],
        "datalist": [],
        "region_classes": results.REGION_CLASSES,
        "consequence_groups": CONSEQUENCE_GROUPS,
        "impacts": results.IMPACTS,
        "impact_of": IMPACT_OF,
        "columns": SHOWN_COLUMNS,
        "query": results.VariantQuery(),
        "source_filters": [],
        "column_titles": {},
        "op_labels": results.OPS,
    }
    if job.status != models.COMPLETED:
        return context
    cfg = settings()
    try:
        query = results.VariantQuery.from_args(args)
    except results.BadQuery as bad:
        context["browser_error"] = str(bad)
        query = results.VariantQuery()
    context["query"] = query
    try:
        try:
            context["browser"] = results.query_page(cfg, job, query)
        except results.BadQuery as bad:  # a filter on a column this job lacks
            context["browser_error"] = str(bad)
            query = context["query"] = results.VariantQuery()
            context["browser"] = results.query_page(cfg, job, query)
    except results.ResultUnavailable:
        return context  # a job from before the variant table: the files are still listed
    except Exception:
        current_app.logger.exception("job %s: variant table unavailable", job.job_id)
        context["browser_error"] = "The variant table cannot be read right now."
    page = context["browser"]
    if page is not None and page.source_columns:
        # The job's source columns come after the fixed ones, titled with their header text.
        context["columns"] = SHOWN_COLUMNS + tuple(c.name for c in page.source_columns)
        context["column_titles"] = {
            c.name: f"{c.source}: {c.description}" for c in page.source_columns
        }
        context["source_filters"] = source_filters(page, query)
    try:
        genes = results.genes(cfg, job)
    except Exception:
        genes = ()
    context["top_genes"] = [
        {
            **gene,
            "links": results.gene_links(job.build, gene["gene"], gene["gene_id"]),
            # Most severe first, as genes.json lists them (absent in a summary from before).
            "consequences": [
                {"term": term, "count": count, "impact": IMPACT_OF.get(term, "")}
                for term, count in (gene.get("by_consequence") or {}).items()
            ],
        }
        for gene in genes[:TOP_GENES]
    ]
    context["gene_consequences"] = any(gene["consequences"] for gene in context["top_genes"])
    context["datalist"] = [gene["gene"] for gene in genes[:DATALIST_GENES]]
    context["variant_links"] = lambda row: results.variant_links(job.build, row)
    return context


def consequence_chart(counts: Mapping[str, Any] | None, links: Links) -> dict[str, Any] | None:
    """The job page's chart of alleles by their most severe consequence: bars most severe first,
    each coloured by its impact and linking to the browser filtered by it, and the impacts' sums.
    """
    if not counts:
        return None
    known = {name: int(n) for name, n in counts.items() if int(n) > 0}
    order = {t.name: t.rank for t in results.CONSEQUENCES}
    names = sorted(known, key=lambda name: (order.get(name, len(order) + 1), name))
    top = max(known.values(), default=0) or 1
    rows: list[dict[str, Any]] = [
        {
            "label": name,
            "count": known[name],
            "width": round(300 * known[name] / top),
            "impact": IMPACT_OF.get(name, ""),
            "url": links.page(consequence=name),
        }
        for name in names
    ]
    impacts = [
        {
            "impact": impact,
            "count": sum(r["count"] for r in rows if r["impact"] == impact),
            "url": links.page(impact=impact),
        }
        for impact in results.IMPACTS
    ]
    return {"rows": rows, "impacts": impacts}


def shares_view(job: models.Job) -> list[dict[str, Any]]:
    """The job's share links for its owner's page."""
    secret = current_app.config["SECRET_KEY"]
    return [
        {
            "share": share,
            "url": url_for(
                "shared.job_page",
                token=shares.token_for(secret, job.job_id, share.share_id),
                _external=True,
            ),
        }
        for share in shares.shares_of(job)
    ]
