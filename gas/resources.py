"""The names of GAS's cloud resources, all derived from one resource-name prefix.

CloudFormation (infra/template.yaml) creates them under these names, so code finds them without
reading stack outputs, and two prefixes (a test session's, a developer's) never collide.
"""

from __future__ import annotations

from dataclasses import dataclass

from gas.settings import Settings


@dataclass(frozen=True)
class Resources:
    """The names of one deployment's resources; ARNs also need the account (``aws.resources``)."""

    prefix: str
    region: str
    account: str = ""

    @classmethod
    def of(cls, settings: Settings, account: str = "") -> Resources:
        """The deployment's names; pass the account only where ARNs are needed."""
        return cls(prefix=settings.prefix, region=settings.region, account=account)

    def _arn(self, service: str, resource: str) -> str:
        # An ARN without its account looks valid and is refused by AWS far from here: fail now.
        if not self.account:
            raise ValueError(f"{resource}: an ARN needs the account; use aws.resources(settings)")
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    # S3
    @property
    def inputs_bucket(self) -> str:
        return f"{self.prefix}-inputs"

    @property
    def results_bucket(self) -> str:
        return f"{self.prefix}-results"

    # DynamoDB
    @property
    def users_table(self) -> str:
        return f"{self.prefix}-users"

    @property
    def jobs_table(self) -> str:
        return f"{self.prefix}-jobs"

    @property
    def tokens_table(self) -> str:
        return f"{self.prefix}-tokens"

    # Step Functions
    def activity_name(self, activity: str) -> str:
        return f"{self.prefix}-{activity}"

    def activity_arn(self, activity: str) -> str:
        return self._arn("states", f"activity:{self.activity_name(activity)}")

    @property
    def job_state_machine_name(self) -> str:
        return f"{self.prefix}-annotation-job"

    @property
    def thaw_state_machine_name(self) -> str:
        return f"{self.prefix}-thaw"

    def state_machine_arn(self, name: str) -> str:
        return self._arn("states", f"stateMachine:{name}")

    def execution_arn(self, state_machine_name: str, execution_name: str) -> str:
        return self._arn("states", f"execution:{state_machine_name}:{execution_name}")

    # Messaging
    @property
    def results_topic(self) -> str:
        return f"{self.prefix}-job-results"

    @property
    def results_topic_arn(self) -> str:
        return self._arn("sns", self.results_topic)

    @property
    def restore_events_queue(self) -> str:
        return f"{self.prefix}-restore-events"

    @property
    def restore_requests_queue(self) -> str:
        return f"{self.prefix}-restore-requests"

    @property
    def restore_events_topic_arn(self) -> str:
        """The SNS topic Glacier vault jobs report to; it bears the restore-events queue's name."""
        return self._arn("sns", self.restore_events_queue)

    @property
    def restore_events_dlq(self) -> str:
        return f"{self.prefix}-restore-events-dlq"

    @property
    def glacier_vault(self) -> str:
        return f"{self.prefix}-archive"
