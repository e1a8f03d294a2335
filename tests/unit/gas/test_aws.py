"""What gas.aws reads out of a refused call."""

from __future__ import annotations

from botocore.exceptions import ClientError

from gas import aws


def _refused(error: dict[str, str]) -> ClientError:
    return ClientError({"Error": error, "ResponseMetadata": {}}, "HeadObject")


def test_error_code_and_message_come_from_the_response() -> None:
    refused = _refused({"Code": "NoSuchKey", "Message": "The key does not exist"})
    assert aws.error_code(refused) == "NoSuchKey"
    assert aws.error_message(refused) == "The key does not exist"


def test_a_response_without_an_error_has_no_code_and_its_own_words() -> None:
    refused = ClientError({"ResponseMetadata": {"HTTPStatusCode": 500}}, "HeadObject")
    assert aws.error_code(refused) == ""
    assert aws.error_message(refused) == str(refused)
