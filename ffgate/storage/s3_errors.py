"""botocore's errors as the project's one error tree, so no caller ever handles a raw botocore exception.

Everything that a later attempt may fix (down, slow, throttled, full, refused, wrong keys, missing bucket)
becomes StorageUnavailable with a fixed `reason` word for metrics; a missing object becomes ObjectNotFound.
Messages name the operation and the S3 error code, never the endpoint, the bucket's contents or a key.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from ffgate.errors import FfgateError, ObjectNotFound, StorageUnavailable

BOTO_ERRORS = (BotoCoreError, ClientError)

_THROTTLED = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "TooManyRequests",
    "ServiceUnavailable",
}
_DENIED = {
    "AccessDenied",
    "AllAccessDisabled",
    "AccountProblem",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "InvalidToken",
    "SignatureDoesNotMatch",
}
_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}


def translate(exc: BotoCoreError | ClientError, operation: str) -> FfgateError:
    """The project's error for a failed `operation` (an S3 API name, e.g. PutObject)."""
    if isinstance(exc, ClientError):
        return _from_client_error(exc, operation)
    name = type(exc).__name__
    if isinstance(exc, ParamValidationError):
        raise exc  # a bug in ffgate, not a state of the store: let it surface as one
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return StorageUnavailable(
            "No usable S3 credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).",
            reason="no-credentials",
            retry_after_s=60,
        )
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return StorageUnavailable(f"The output store did not answer in time ({operation}).", reason="timeout")
    if isinstance(exc, BotoConnectionError | ConnectionClosedError | HTTPClientError | IncompleteReadError):
        return StorageUnavailable(
            f"The output store is unreachable ({name} during {operation}).", reason="unreachable"
        )
    return StorageUnavailable(f"The output store failed ({name} during {operation}).", reason="client-error")


def _from_client_error(exc: ClientError, operation: str) -> FfgateError:
    error = exc.response.get("Error", {})
    meta = exc.response.get("ResponseMetadata", {})
    code = str(error.get("Code", ""))
    status = int(meta.get("HTTPStatusCode", 0) or 0)
    said = f"{code or status} on {operation}"
    if code == "NoSuchBucket" or (operation == "HeadBucket" and status == 404):
        return StorageUnavailable(
            f"The output store's bucket does not exist ({said}).", reason="no-bucket", retry_after_s=60
        )
    if code in _NOT_FOUND or status == 404:
        return ObjectNotFound(f"No stored object ({said}).")
    if code in _THROTTLED or status in (429, 503):
        return StorageUnavailable(
            f"The output store asks to slow down ({said}).",
            reason="throttled",
            retry_after_s=_retry_after(meta.get("HTTPHeaders", {})),
        )
    if code in _DENIED or status == 403:
        return StorageUnavailable(
            f"The output store refuses ffgate's credentials ({said}).", reason="denied", retry_after_s=60
        )
    if status >= 500:
        return StorageUnavailable(f"The output store failed ({said}).", reason="server-error")
    return StorageUnavailable(
        f"The output store refused the request ({said}).", reason="refused", retry_after_s=30
    )


def _retry_after(headers: dict[str, str]) -> float:
    try:
        return max(1.0, min(float(headers.get("retry-after", "")), 300.0))
    except ValueError:
        return 5.0
