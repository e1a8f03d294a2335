"""schemathesis fuzzes every operation of the served OpenAPI document, then follows its links
(stateful), against the dashboard in-process and the real local cloud behind it.

Every response must be no server error and must be what the document says (status, content type,
headers, body schema); valid requests must be accepted and invalid ones refused. The example
counts are bounded so the module takes well under a minute.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from gas import keys, models
from gas.models import Job, User
from webapp import api_spec, create_app
from workflows import tokens

pytestmark = pytest.mark.integration

# Examples per operation (stateless), and scenarios × steps (stateful).
EXAMPLES = 25
SCENARIOS, STEPS = 15, 5


@pytest.fixture(scope="module")
def fuzz_app(settings) -> Flask:
    # The limiter is one extension per process: raise the API's limit for this app, never off.
    return create_app(settings, TESTING=True, API_RATE_LIMIT="1000000 per minute")


# The fuzz account's jobs: two in every status (so every status filter has a next page), with
# the same ids and times each time they are laid out (a stateful scenario starts from the same
# state, or Hypothesis sees its rules change under it).
_SLOTS = uuid.UUID("0f8f3a4e-33c1-4c55-9a57-2f6f1c3b7e10")
_START = datetime(2026, 1, 1, tzinfo=UTC)


def lay_out_jobs(user_id: str) -> None:
    """Remove every job of ``user_id``'s and store the fixed set again (no executions behind)."""
    for job in Job.for_user(user_id, limit=None):
        job.delete()
    for n, status in enumerate(models.STATUSES * 2):
        key = keys.upload_key(user_id, str(uuid.uuid5(_SLOTS, f"{user_id}/{n}")))
        job_id = keys.job_id_for_upload(key)
        completed = status == models.COMPLETED
        Job(
            job_id,
            user_id=user_id,
            status=status,
            input_key=key,
            input_filename="fuzz.vcf",
            submitted_at=_START + timedelta(minutes=n),
            results={k: keys.result_key(user_id, job_id, k) for k in keys.RESULT_FILES}
            if completed
            else None,
        ).save()


@pytest.fixture(scope="module")
def fuzz_user(fuzz_app: Flask) -> User:
    user_id = keys.new_id()
    user = User(user_id, email=f"fuzz-{user_id[:8]}@example.org", name="Fuzz")
    user.save()
    lay_out_jobs(user_id)
    return user


@pytest.fixture(scope="module")
def fuzz_token(fuzz_app: Flask, fuzz_user: User) -> str:
    """A read-write token of the fuzz account's."""
    settings = fuzz_app.config["GAS_SETTINGS"]
    secret, _ = tokens.create(settings, fuzz_user, name="fuzz", scope=models.READ_WRITE)
    return secret


def _config(token: str) -> SchemathesisConfig:
    accepted = ["2xx", "3xx", "401", "403", "404", "409", "429"]
    return SchemathesisConfig.from_dict(
        {
            "headers": {"Authorization": f"Bearer {token}"},
            "generation": {"max-examples": EXAMPLES},
            "operations": [
                {
                    # A valid POST /jobs names an upload that schemathesis never sends to S3:
                    # the API says so with 422 (the upload did not arrive), as documented.
                    "include-operation-id": "submitJob",
                    "checks": {"positive_data_acceptance": {"expected-statuses": [*accepted, 422]}},
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Flask, fuzz_token: str):
    return schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", fuzz_app, config=_config(fuzz_token)
    )


# Every operation of the document, in both modes: valid requests, and requests the document says
# are invalid. (Read from the module that writes the document, so a new route is fuzzed too.)
OPERATIONS = [
    pytest.param(method.upper(), path, mode, id=f"{method.upper()} {path} {mode.value}")
    for path, methods in api_spec.PATHS.items()
    for method in methods
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
]


@pytest.fixture(scope="module")
def genuine_pages(fuzz_app: Flask, fuzz_token: str) -> dict[str | None, str]:
    """A next_page the API gave out for each status filter (and none) of the fuzz account."""
    client, found = fuzz_app.test_client(), {}
    for status in (None, *models.STATUSES):
        query = "" if status is None else f"&status={status}"
        answer = client.get(
            f"/api/v1/jobs?limit=1{query}", headers={"Authorization": f"Bearer {fuzz_token}"}
        )
        found[status] = answer.get_json()["next_page"]
    assert all(found.values())
    return found


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS)
def test_every_operation_answers_as_documented(
    api_schema, fuzz_token: str, genuine_pages, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    if mode is GenerationMode.NEGATIVE and not _can_be_invalid(operation.definition.raw):
        pytest.skip("no parameter or body that a request could get wrong")
    auth = {"Authorization": f"Bearer {fuzz_token}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,  # nothing written into the checkout
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        if mode is GenerationMode.POSITIVE:
            follow_the_words(case, genuine_pages)
        case.call_and_validate(headers=auth)

    fuzz()


def follow_the_words(case: Any, genuine_pages: dict[str | None, str]) -> None:
    """Make a valid request follow the rules the document can state only in words.

    A page token is a value the API gave out (the NextPage link), never one made up: a valid
    request carries a genuine one for its own status filter. A variant range needs a chromosome
    and ends after it starts (rules between parameters, which OpenAPI cannot express).
    """
    query = case.query or {}
    label = case.operation.label
    if label == "GET /jobs" and "page" in query and query["page"] not in genuine_pages.values():
        query["page"] = genuine_pages[query.get("status")]
    if label == "GET /jobs/{job_id}/variants":
        if "chrom" not in query:
            query.pop("start", None)
            query.pop("end", None)
        elif "start" in query and "end" in query and int(query["end"]) < int(query["start"]):
            query["start"], query["end"] = query["end"], query["start"]


def _can_be_invalid(operation: dict[str, Any]) -> bool:
    return bool(operation.get("parameters") or operation.get("requestBody"))


def test_following_the_links_answers_as_documented(
    api_schema, fuzz_user: User, fuzz_token: str, genuine_pages
) -> None:
    auth = {"Authorization": f"Bearer {fuzz_token}"}
    given_out = set(genuine_pages.values())

    class Workflow(api_schema.as_state_machine()):
        def setup(self) -> None:
            lay_out_jobs(fuzz_user.user_id)  # each scenario starts from the same jobs

        def before_call(self, case: Any) -> None:
            case.headers = {**(case.headers or {}), **auth}
            query = case.query or {}
            positive = case.meta is None or case.meta.generation.mode is GenerationMode.POSITIVE
            if positive and query.get("page", 0) in given_out:
                return  # a page token the API gave out, through the NextPage link
            if positive:
                follow_the_words(case, genuine_pages)

        def after_call(self, response: Any, case: Any) -> None:
            listed = response.status_code == 200 and case.operation.label == "GET /jobs"
            if listed and (token := response.json()["next_page"]):
                given_out.add(token)

    Workflow.run(
        settings=settings(
            Workflow.TestCase.settings,
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
        )
    )
