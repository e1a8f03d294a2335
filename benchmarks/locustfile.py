"""Load on the dashboard's pages and the researchers' API (the first system's test: 200 users).

Run against a dashboard serving a deployed stack (see docs/benchmarks.md, "Dashboard")::

    GAS_PREFIX=bench locust -f benchmarks/locustfile.py --headless -u 200 -r 20 -t 2m \\
        --host http://127.0.0.1:5000

On start it seeds, through the models, one account per simulated user with a few jobs. Each user
is handed a session cookie signed with the dashboard's secret key instead of logging in: the login
form is rate-limited per address (by design), and every simulated user comes from 127.0.0.1.
Half the simulated users are scripts instead: they hold a personal access token (made through
``workflows.tokens``, as the profile page makes one) and use ``/api/v1`` only.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from locust import HttpUser, between, events, task

from gas import keys, models
from gas.settings import Settings
from workflows import tokens

USERS = int(os.environ.get("GAS_BENCH_USERS", "200"))
JOBS_PER_USER = int(os.environ.get("GAS_BENCH_JOBS_PER_USER", "5"))
USER_AGENT = "gas-locust"

# (user_id, job ids, session cookie, API token)
_accounts: list[tuple[str, list[str], str, str]] = []
_account_numbers = itertools.count()
_lock = threading.Lock()


def _seed_jobs(user: models.User, settings: Settings) -> list[str]:
    ids = []
    now = datetime.now(UTC)
    for n in range(JOBS_PER_USER):
        key = keys.upload_key(user.user_id, keys.new_id())
        job_id = keys.job_id_for_upload(key)
        status = random.choice([models.COMPLETED, models.RUNNING, models.ARCHIVED])
        models.Job(
            job_id,
            user_id=user.user_id,
            status=status,
            input_key=key,
            input_filename=f"bench_{n}.vcf",
            submitted_at=now - timedelta(minutes=n),
            completed_at=now if status != models.RUNNING else None,
            archive_after=now + timedelta(minutes=5),
            variants_done=1141,
            variants_total=1141,
            # An execution that does not exist: the page still asks Step Functions (once per
            # cache lifetime) and draws the graph from the ASL.
            execution_arn=f"arn:aws:states:{settings.region}:000000000000:execution:"
            f"{settings.prefix}-annotation-job:{job_id}",
            summary={
                "variants": 1141,
                "by_region": {"CDS": 767, "upstream": 203, "ncExon": 167, "downstream": 4},
                "by_chromosome": {"MT": 1141},
            },
        ).save()
        ids.append(job_id)
    return ids


def _session_cookie(app, user_id: str) -> str:  # noqa: ANN001 (a Flask app)
    """The cookie Flask-Login would set for ``user_id`` from 127.0.0.1 with USER_AGENT."""
    from flask_login.utils import _create_identifier

    with app.test_request_context(
        headers={"User-Agent": USER_AGENT}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    ):
        identity = _create_identifier()
    serializer = app.session_interface.get_signing_serializer(app)
    return serializer.dumps({"_user_id": user_id, "_fresh": True, "_id": identity})


@events.test_start.add_listener
def seed(environment, **_: object) -> None:  # noqa: ANN001
    from webapp import create_app

    settings = Settings.from_env()
    app = create_app(settings)
    models.bind(settings)
    for _n in range(USERS):
        user = models.User(keys.new_id(), email=f"bench-{keys.new_id()[:12]}@example.org")
        user.save()
        secret, _token = tokens.create(settings, user, name="locust", scope=models.READ_ONLY)
        _accounts.append(
            (
                user.user_id,
                _seed_jobs(user, settings),
                _session_cookie(app, user.user_id),
                secret,
            )
        )
    print(f"seeded {USERS} users with {JOBS_PER_USER} jobs each under prefix {settings.prefix}")


def _next_account() -> tuple[str, list[str], str, str]:
    with _lock:
        return _accounts[next(_account_numbers) % len(_accounts)]


class Expecting:
    """A GET that counts as failed unless it answers 200 with the expected content."""

    client: Any  # the HttpUser's session, in the classes that mix this in

    def _get(self, path: str, name: str, must_contain: str) -> None:
        # A lost session would redirect to the login page: count that as an error, not a 200.
        with self.client.get(
            path, name=name, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
            elif must_contain not in response.text:
                response.failure(f"{must_contain!r} missing from the answer")


class Researcher(Expecting, HttpUser):
    """Looks at the jobs list (which polls live status) and opens job pages."""

    weight = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        _, self.job_ids, cookie, _ = _next_account()
        self.client.headers["User-Agent"] = USER_AGENT
        self.client.cookies.set("gas_session", cookie)

    @task(4)
    def jobs_list(self) -> None:
        self._get("/annotations", "/annotations", self.job_ids[0])

    @task(4)
    def live_status(self) -> None:
        ids = ",".join(self.job_ids)
        self._get(f"/annotations/status?ids={ids}", "/annotations/status", self.job_ids[-1])

    @task(3)
    def job_page(self) -> None:
        job_id = random.choice(self.job_ids)
        self._get(f"/annotations/{job_id}", "/annotations/[id]", 'data-state="Annotate"')

    @task(1)
    def job_status(self) -> None:
        job_id = random.choice(self.job_ids)
        self._get(f"/annotations/{job_id}/status", "/annotations/[id]/status", job_id)

    @task(1)
    def health_check(self) -> None:
        # What the load balancer asks every few seconds; it must stay fast under load.
        self._get("/healthz", "/healthz", '"status":"ok"')


class Script(Expecting, HttpUser):
    """A researcher's script on /api/v1: polls its jobs, reads one, checks its storage."""

    weight = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        _, self.job_ids, _, secret = _next_account()
        self.client.headers["User-Agent"] = USER_AGENT
        self.client.headers["Authorization"] = f"Bearer {secret}"

    @task(4)
    def list_jobs(self) -> None:
        self._get("/api/v1/jobs?limit=20", "/api/v1/jobs", self.job_ids[0])

    @task(4)
    def one_job(self) -> None:
        job_id = random.choice(self.job_ids)
        self._get(f"/api/v1/jobs/{job_id}", "/api/v1/jobs/[id]", '"execution"')

    @task(1)
    def running_only(self) -> None:
        self._get("/api/v1/jobs?status=RUNNING", "/api/v1/jobs?status=", '"jobs"')

    @task(1)
    def usage(self) -> None:
        self._get("/api/v1/usage", "/api/v1/usage", '"bytes_online"')
