"""Start LocalStack with the journal hooks (run by LocalStack's own Python, as a script).

Run by LocalStack's own interpreter, so it must not import anything of GAS but this package (whose
journal uses the standard library only). ``GAS_LOCAL_STATE_DIR`` names the journal's folder;
``GAS_LOCAL_STATE=off`` starts plain LocalStack (for the benchmark's comparison).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

READY_LINE = "GAS local state ready"


def main() -> None:
    # A script's own folder comes first on sys.path; the repository goes last so that nothing of
    # it can shadow one of LocalStack's modules.
    sys.path.pop(0)
    sys.path.append(str(Path(__file__).resolve().parents[2]))
    from localstack import constants
    from localstack.runtime.main import main as localstack_main

    if os.environ.get("GAS_LOCAL_STATE", "on") != "off":
        from infra.localstack_state import hooks, pinned_version
        from infra.localstack_state.journal import Journal

        expected = pinned_version()
        if expected != constants.VERSION:
            # The hooks wrap LocalStack internals; another version may have moved them.
            raise SystemExit(
                f"GAS local state: written for LocalStack {expected}, found "
                f"{constants.VERSION}; set GAS_LOCAL_STATE=off to run without durable state"
            )
        began = time.monotonic()
        journal = Journal.at(Path(os.environ["GAS_LOCAL_STATE_DIR"]))
        swept = journal.s3.sweep() + journal.executions.sweep()
        hooks.install(journal)
        stats = journal.stats()
        print(
            f"{READY_LINE}: {journal.root} holds {stats['objects']} objects in "
            f"{stats['buckets']} buckets and {stats['executions']} ended executions "
            f"({swept} leftovers of a crash removed, {time.monotonic() - began:.2f} s)",
            flush=True,
        )
    else:
        print(f"{READY_LINE}: off (GAS_LOCAL_STATE=off), nothing survives a restart", flush=True)
    localstack_main()


if __name__ == "__main__":
    main()
