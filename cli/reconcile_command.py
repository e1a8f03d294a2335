"""`gas reconcile`: repair every job whose workflow is gone (see workflows.reconcile)."""

from __future__ import annotations

import json
import logging
import sys
import time

import click

from gas.settings import Settings


@click.command("reconcile")
@click.option("--dry-run", is_flag=True, help="Show what would be repaired; change nothing.")
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    default=None,
    help="Run again every this many seconds, until SIGTERM or Ctrl-C.",
)
@click.option("--json", "as_json", is_flag=True, help="Print each run's report as JSON.")
@click.pass_obj
def reconcile(settings: Settings, dry_run: bool, every: float | None, as_json: bool) -> None:
    """Repair jobs whose execution or thaw is missing, stopped, timed out or failed."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    from workflows.reconcile import Reconciler

    reconciler = Reconciler(settings)
    while True:
        try:
            report = reconciler.run(dry_run=dry_run)
        except Exception as exc:  # noqa: BLE001 - a periodic run outlives a cloud hiccup
            if every is None:
                raise
            click.echo(json.dumps({"event": "reconcile-error", "error": repr(exc)}), err=True)
        else:
            _show(report.as_dict(), as_json)
        if every is None:
            return
        try:
            time.sleep(every)
        except KeyboardInterrupt:
            return


def _show(report: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report))
        return
    verb = "would repair" if report["dry_run"] else "repaired"
    click.echo(
        f"checked {report['jobs_checked']} job(s) in {report['seconds']:.2f} s "
        f"({report['executions_described']} execution(s) described); "
        f"{verb} {len(report['repairs'])}"
    )
    for repair in report["repairs"]:
        done = "" if report["dry_run"] or repair["done"] else " (someone else got there first)"
        reason = f": {repair['reason']}" if repair["reason"] else ""
        click.echo(
            f"  {repair['job_id']}  {repair['status']}, workflow {repair['workflow_status']} "
            f"→ {repair['action']}{reason}{done}"
        )


def register(group: click.Group) -> None:
    group.add_command(reconcile)
