"""S3 answers that a healthy test server does not give, translated as the real ones are (s3_errors)."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)

from ffgate.errors import ObjectNotFound, StorageUnavailable
from ffgate.storage.s3_errors import translate


def client_error(status: int, code: str, **headers: str) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": "..."},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
    }
    return ClientError(response, "PutObject")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "reason", "retry_after"),
    [
        (client_error(503, "SlowDown", **{"retry-after": "7"}), "throttled", "7"),
        (client_error(429, "TooManyRequests"), "throttled", "5"),
        (client_error(500, "InternalError"), "server-error", "5"),
        (client_error(403, "SignatureDoesNotMatch"), "denied", "60"),
        (client_error(400, "InvalidAccessKeyId"), "denied", "60"),
        (client_error(400, "EntityTooLarge"), "refused", "30"),
        (client_error(507, "InsufficientStorage"), "server-error", "5"),
        (client_error(404, "NoSuchBucket"), "no-bucket", "60"),
        (EndpointConnectionError(endpoint_url="http://10.0.0.1:9000"), "unreachable", "5"),
        (ConnectTimeoutError(endpoint_url="http://10.0.0.1:9000"), "timeout", "5"),
        (ReadTimeoutError(endpoint_url="http://10.0.0.1:9000"), "timeout", "5"),
    ],
)
def test_store_failures_are_storage_unavailable_with_a_reason(
    error: Exception, reason: str, retry_after: str
) -> None:
    translated = translate(error, "PutObject")  # type: ignore[arg-type]
    assert isinstance(translated, StorageUnavailable)
    assert (translated.reason, translated.headers["Retry-After"], translated.status) == (
        reason,
        retry_after,
        503,
    )
    assert "10.0.0.1" not in translated.detail and "PutObject" in translated.detail


def test_a_missing_object_is_not_found() -> None:
    assert isinstance(translate(client_error(404, "NoSuchKey"), "GetObject"), ObjectNotFound)


def test_a_bug_in_the_call_is_not_hidden_as_an_outage() -> None:
    with pytest.raises(ParamValidationError):
        translate(ParamValidationError(report="Missing required parameter"), "PutObject")
