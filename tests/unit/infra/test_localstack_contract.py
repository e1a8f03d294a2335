"""The journal hooks against the LocalStack they are pinned to, run in LocalStack's own venv.

``infra/localstack_state/contract.py`` lists every LocalStack internal the hooks and the launcher
use (module, class, member, parameter names, the body of the member re-implemented); here it is
checked against the installed, pinned LocalStack, and checked to be complete. Then the hooks'
S3 snapshot is run on LocalStack's real provider: a bucket LocalStack says is gone removes its
record, and anything unexpected (an internal renamed) is raised and removes nothing.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gas.settings import REPO_ROOT, Settings
from infra.localstack_state import REQUIREMENTS, contract, pinned_version

STATE = REPO_ROOT / "infra" / "localstack_state"


@pytest.fixture(scope="module")
def localstack_python() -> Path:
    python = Settings.from_env().state_dir / "localstack-venv" / "bin" / "python"
    if not python.exists():
        pytest.skip(f"LocalStack is not installed ({python}); `make test` installs it first")
    return python


def run_in_localstack(python: Path, script: str) -> Any:
    """Run ``script`` with LocalStack's Python, the repository last on its path; its JSON."""
    prelude = f"import sys; sys.path.append({str(REPO_ROOT)!r})\n"
    done = subprocess.run(
        [str(python), "-c", prelude + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        cwd="/",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_pinned_localstack_has_everything_the_hooks_use(localstack_python: Path) -> None:
    done = subprocess.run(
        [str(localstack_python), str(STATE / "contract.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(done.stdout)
    assert found["version"] == pinned_version()
    assert found["problems"] == []


def test_the_contract_check_finds_what_moved(localstack_python: Path) -> None:
    found = run_in_localstack(
        localstack_python,
        """
        import json
        from infra.localstack_state import contract as c
        S3P = (f"{c.S3}.provider", "S3Provider")
        c.NAMES["localstack.runtime.events"].append("infra_halting")
        c.METHODS[(*S3P, "_get_cross_account_bucket")] = ["context", "bucket"]
        c.METHODS[(*S3P, "get_object_lock")] = ["context"]
        c.METHODS[(*S3P, "delete_objects")] = ["context", "delete", "bucket"]
        c.ATTRIBUTES[S3P].append("_storage")
        key = next(iter(c.REIMPLEMENTED))
        c.REIMPLEMENTED[key] = c.REIMPLEMENTED[key][1:]
        print(json.dumps(c.check()))
        """,
    )
    assert len(found) == 6, found
    for what in (
        "infra_halting",
        "_get_cross_account_bucket",
        "get_object_lock",
        "delete_objects",
        "_storage",
        "terminated",
    ):
        assert any(what in problem for problem in found), (what, found)


def _hooks_tree() -> ast.Module:
    return ast.parse((STATE / "hooks.py").read_text())


def test_the_contract_names_every_import_and_private_member_of_the_hooks() -> None:
    listed_names = {(module, name) for module, names in contract.NAMES.items() for name in names}
    members = {member for (_m, _c, member) in contract.METHODS}
    attributes = {name for names in contract.ATTRIBUTES.values() for name in names}
    for path in (STATE / "hooks.py", STATE / "launch.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("localstack"):
                for alias in node.names:
                    module = f"{node.module}.{alias.name}"
                    assert (node.module, alias.name) in listed_names or module in contract.NAMES, (
                        f"{path.name} imports {module}, which the contract does not list"
                    )
    private = {
        node.attr
        for node in ast.walk(_hooks_tree())
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
    }
    assert private - members - attributes == set()
    [writes] = [
        node.value
        for node in ast.walk(_hooks_tree())
        if isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == "S3_WRITES"
    ]
    assert isinstance(writes, ast.Dict)
    wrapped = {ast.literal_eval(key) for key in writes.keys if key is not None}
    assert wrapped and wrapped <= members


def test_one_pin_of_the_localstack_version() -> None:
    version = pinned_version()
    assert version.count(".") == 2
    for path in REPO_ROOT.joinpath("infra").rglob("*.py"):
        assert version not in path.read_text(), f"{path} repeats the pin of {REQUIREMENTS}"


SNAPSHOT = """
import json, logging, tempfile
from pathlib import Path
from localstack.aws.api import RequestContext
from localstack.services.s3.provider import S3Provider
from infra.localstack_state import hooks
from infra.localstack_state.journal import Journal

logging.disable(logging.CRITICAL)
journal = Journal.at(Path(tempfile.mkdtemp()) / "state")
hooks._State.journal = journal
context = RequestContext(None)
context.account_id, context.region = "000000000000", "us-east-1"
provider = S3Provider()
outcome = {}

def records():
    return [o.key for o in journal.s3.objects("b")]

journal.s3.put("b", "gone", {"size": 1}, b"1")
hooks._snapshot(provider, context, "b", "gone")  # LocalStack has no bucket b: it is gone
outcome["after_gone"] = records()

journal.s3.put("b", "kept", {"size": 1}, b"1")
del S3Provider._get_cross_account_bucket  # as if a LocalStack release had renamed it
try:
    hooks._snapshot(provider, context, "b", "kept")
    outcome["raised"] = None
except Exception as exc:
    outcome["raised"] = type(exc).__name__
outcome["after_error"] = records()
print(json.dumps(outcome))
"""


def test_only_a_bucket_localstack_says_is_gone_loses_its_record(localstack_python: Path) -> None:
    outcome = run_in_localstack(localstack_python, SNAPSHOT)
    assert outcome["after_gone"] == []
    assert outcome["raised"] == "AttributeError"
    assert outcome["after_error"] == ["kept"]
