"""Every LocalStack internal that the journal hooks (``hooks.py``) and ``launch.py`` rely on.

The hooks wrap private members of LocalStack's providers, so a LocalStack that renamed one would
break them quietly. This list is checked against the pinned LocalStack by running this file with
LocalStack's own Python (``tests/unit/infra/test_localstack_contract.py`` does); it prints a JSON
object with the version found and every problem. Standard library only, like ``launch.py``.
Whoever makes the hooks use another internal adds it here (the test finds private members and
imports of ``hooks.py`` that are missing).
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

S3 = "localstack.services.s3"
SFN = "localstack.services.stepfunctions"
WORKER = "BaseExecutionWorkerCommunication"

# module -> names it must define
NAMES: dict[str, list[str]] = {
    "localstack.constants": ["VERSION"],
    "localstack.runtime.main": ["main"],
    "localstack.runtime.events": ["infra_stopping"],
    "localstack.aws.api": ["RequestContext"],
    "localstack.aws.api.s3": ["NoSuchBucket"],
    "localstack.aws.api.stepfunctions": ["ExecutionAlreadyExists", "ExecutionDoesNotExist"],
    f"{S3}.models": ["S3Object", "S3Bucket", "S3Store", "KeyStore", "VersionedKeyStore"],
    f"{S3}.provider": ["S3Provider"],
    f"{S3}.storage.core": ["S3ObjectStore", "S3StoredObject"],
    f"{SFN}.backend.execution": ["BaseExecutionWorkerCommunication", "Execution"],
    f"{SFN}.backend.models": ["SFNStore"],
    f"{SFN}.provider": ["StepFunctionsProvider"],
}

# (module, class, method) -> parameter names the hooks pass or bind by name, in their order
# (after ``self``); the first is the method's first parameter.
METHODS: dict[tuple[str, str, str], list[str]] = {
    (f"{S3}.provider", "S3Provider", "_get_cross_account_bucket"): ["context", "bucket_name"],
    (f"{S3}.provider", "S3Provider", "get_store"): ["account_id", "region_name"],
    (f"{S3}.provider", "S3Provider", "put_object"): ["context", "request"],
    (f"{S3}.provider", "S3Provider", "post_object"): ["context", "bucket"],
    (f"{S3}.provider", "S3Provider", "copy_object"): ["context", "request"],
    (f"{S3}.provider", "S3Provider", "restore_object"): ["context", "bucket", "key"],
    (f"{S3}.provider", "S3Provider", "complete_multipart_upload"): ["context", "bucket", "key"],
    (f"{S3}.provider", "S3Provider", "delete_object"): ["context", "bucket", "key"],
    (f"{S3}.provider", "S3Provider", "delete_objects"): ["context", "bucket", "delete"],
    (f"{S3}.provider", "S3Provider", "create_bucket"): ["context", "request"],
    (f"{S3}.provider", "S3Provider", "delete_bucket"): ["context", "bucket"],
    (f"{S3}.models", "KeyStore", "get"): ["object_key"],
    (f"{S3}.models", "KeyStore", "set"): ["object_key", "s3_object"],
    (f"{S3}.models", "VersionedKeyStore", "get"): ["object_key"],
    (f"{S3}.models", "VersionedKeyStore", "set"): ["object_key", "s3_object"],
    (f"{S3}.storage.core", "S3ObjectStore", "open"): ["bucket", "s3_object", "mode"],
    (f"{S3}.storage.core", "S3StoredObject", "read"): [],
    (f"{S3}.storage.core", "S3StoredObject", "seek"): [],
    (f"{S3}.storage.core", "S3StoredObject", "write"): ["s"],
    (f"{SFN}.provider", "StepFunctionsProvider", "get_store"): ["context"],
    (f"{SFN}.provider", "StepFunctionsProvider", "describe_execution"): [
        "context",
        "execution_arn",
    ],
    (f"{SFN}.provider", "StepFunctionsProvider", "get_execution_history"): [
        "context",
        "execution_arn",
        "reverse_order",
    ],
    (f"{SFN}.provider", "StepFunctionsProvider", "list_executions"): [
        "context",
        "state_machine_arn",
        "status_filter",
        "max_results",
        "next_token",
    ],
    (f"{SFN}.provider", "StepFunctionsProvider", "start_execution"): [
        "context",
        "state_machine_arn",
        "name",
    ],
    (f"{SFN}.provider", "StepFunctionsProvider", "delete_state_machine"): [
        "context",
        "state_machine_arn",
    ],
    (f"{SFN}.backend.execution", WORKER, "terminated"): [],
    (f"{SFN}.backend.execution", WORKER, "_reflect_execution_status"): [],
    (f"{SFN}.backend.execution", "Execution", "publish_execution_status_change_event"): [],
    (f"{SFN}.backend.execution", "Execution", "to_describe_output"): [],
    (f"{SFN}.backend.execution", "Execution", "to_history_output"): [],
    (f"{SFN}.backend.execution", "Execution", "to_execution_list_item"): [],
}

# (module, class) -> attributes its instances have (assigned in __init__, or declared on the class)
ATTRIBUTES: dict[tuple[str, str], list[str]] = {
    (f"{S3}.provider", "S3Provider"): ["_storage_backend"],
    (f"{S3}.models", "S3Bucket"): ["objects"],
    (f"{S3}.models", "S3Store"): ["buckets", "global_bucket_map"],
    (f"{S3}.models", "S3Object"): ["key", "etag", "size", "parts", "internal_last_modified"],
    (f"{SFN}.backend.models", "SFNStore"): ["executions"],
    (f"{SFN}.backend.execution", WORKER): ["execution"],
    (f"{SFN}.backend.execution", "Execution"): ["exec_arn", "sm_type"],
    ("localstack.aws.api", "RequestContext"): ["account_id", "region", "request"],
}

# Members hooks.py re-implements wholesale: their body, statement by statement, as it copies it.
# A LocalStack whose body differs changed what the copy must do.
REIMPLEMENTED: dict[tuple[str, str, str], list[str]] = {
    (f"{SFN}.backend.execution", WORKER, "terminated"): [
        "self._reflect_execution_status()",
        "self.execution.publish_execution_status_change_event()",
    ],
}


def _class(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def _body(function: Any) -> list[str]:
    lines = inspect.getsource(function).splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip().endswith(":")) + 1
    return [line.strip() for line in lines[start:] if line.strip()]


def _has_attribute(cls: Any, attribute: str) -> bool:
    if hasattr(cls, attribute) or attribute in getattr(cls, "__annotations__", {}):
        return True
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is not None and hasattr(init, "__code__"):
            try:
                if f"self.{attribute} =" in inspect.getsource(init):
                    return True
            except (OSError, TypeError):
                continue
    return False


def check() -> list[str]:
    """What of the contract the LocalStack on this interpreter's path does not provide."""
    problems: list[str] = []
    for module, names in NAMES.items():
        try:
            loaded = importlib.import_module(module)
        except ImportError as exc:
            problems.append(f"module {module}: {exc}")
            continue
        problems += [f"{module}.{name}: missing" for name in names if not hasattr(loaded, name)]
    for (module, cls_name, method), wanted in METHODS.items():
        where = f"{module}.{cls_name}.{method}"
        try:
            member = getattr(_class(module, cls_name), method)
        except (ImportError, AttributeError) as exc:
            problems.append(f"{where}: {exc}")
            continue
        params = [p for p in inspect.signature(member).parameters if p != "self"]
        if wanted and params[:1] != wanted[:1]:
            problems.append(f"{where}: first parameter is {params[:1]}, not {wanted[0]!r}")
        found = iter(params)
        if not all(name in found for name in wanted):  # in this order, gaps allowed
            problems.append(f"{where}: parameters {params} lack {wanted} in that order")
    for (module, cls_name), attributes in ATTRIBUTES.items():
        try:
            cls = _class(module, cls_name)
        except (ImportError, AttributeError) as exc:
            problems.append(f"{module}.{cls_name}: {exc}")
            continue
        problems += [
            f"{module}.{cls_name}.{attribute}: no such attribute"
            for attribute in attributes
            if not _has_attribute(cls, attribute)
        ]
    for (module, cls_name, method), body in REIMPLEMENTED.items():
        try:
            actual = _body(getattr(_class(module, cls_name), method))
        except (ImportError, AttributeError, OSError) as exc:
            problems.append(f"{module}.{cls_name}.{method}: {exc}")
            continue
        if actual != body:
            where = f"{module}.{cls_name}.{method}"
            problems.append(f"{where}: body is now {actual}, hooks copy {body}")
    return problems


def main() -> None:
    sys.path.pop(0)  # as launch.py: nothing of the repository shadows LocalStack's modules
    sys.path.append(str(Path(__file__).resolve().parents[2]))
    from localstack import constants

    print(json.dumps({"version": constants.VERSION, "problems": check()}))


if __name__ == "__main__":
    main()
