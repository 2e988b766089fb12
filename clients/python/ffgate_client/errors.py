"""The one exception tree of the client.

FfgateClientError                  anything this package raises on purpose
├── GatewayUnreachable             no answer: connection refused or reset, DNS, timeouts (after retries)
├── APIError                       the gateway answered with a problem; `.problem` holds its body
│   ├── RequestRefused             4xx: the request itself was refused; sending it again will not help
│   │   ├── BadRequest             400, 413, 415 (malformed, too large, not JSON)
│   │   ├── AuthenticationError    401: no, unknown or revoked key
│   │   ├── PermissionDenied       403: the key lacks the route's scope
│   │   ├── NotFound               404 (also another client's generation)
│   │   ├── Conflict               409 (e.g. cancel of a finished generation)
│   │   ├── InvalidRequest         422: validation, with `problem.errors`
│   │   └── RateLimited            429 (after the retries), `.retry_after_s`
│   │       └── QuotaExceeded      429: the client's daily image quota
│   └── ServerError                5xx (after the retries)
│       └── ServiceUnavailable     503
├── ModelNotFound                  no model with that assetId or displayName (`.problem`: the gateway's)
├── GenerationFailed               `Generation.raise_for_status()` of a failed generation (`.generation`)
├── GenerationCanceled             ... of a canceled one
├── WaitTimeout                    `wait(timeout=...)` ran out; `.generation` is the last state seen
├── DownloadError                  an output could not be saved (interrupted, disk full, bad answer)
│   └── IntegrityError             the bytes are not the size or SHA-256 the output announced
└── WebhookVerificationError       a webhook whose signature, timestamp or body does not verify
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ffgate_client.models import Generation, Problem


class FfgateClientError(Exception):
    """Base of every error this package raises on purpose."""


class GatewayUnreachable(FfgateClientError):
    """The gateway did not answer (refused, reset, timed out), even after the retries."""


class ProtocolError(FfgateClientError):
    """The gateway (or something in its place) answered 2xx with a body the contract does not allow."""

    def __init__(self, message: str, body: object = None) -> None:
        super().__init__(message)
        self.body = body


class APIError(FfgateClientError):
    """The gateway answered with an error; `problem` is its RFC 9457 body (`type`, `status`, `detail`,
    `request_id`, maybe `errors`)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        request = f" (request {problem.request_id})" if problem.request_id else ""
        super().__init__(f"{problem.status} {problem.detail or problem.title}{request}")

    @property
    def status(self) -> int:
        return self.problem.status

    @property
    def type(self) -> str:
        return self.problem.type

    @property
    def detail(self) -> str:
        return self.problem.detail

    @property
    def request_id(self) -> str:
        return self.problem.request_id


class RequestRefused(APIError):
    """A 4xx: the gateway refused the request as it is."""


class BadRequest(RequestRefused):
    pass


class AuthenticationError(RequestRefused):
    pass


class PermissionDenied(RequestRefused):
    pass


class NotFound(RequestRefused):
    pass


class Conflict(RequestRefused):
    pass


class InvalidRequest(RequestRefused):
    pass


class RateLimited(RequestRefused):
    def __init__(self, problem: Problem, retry_after_s: float | None = None) -> None:
        super().__init__(problem)
        self.retry_after_s = retry_after_s


class QuotaExceeded(RateLimited):
    pass


class ServerError(APIError):
    pass


class ServiceUnavailable(ServerError):
    pass


class ModelNotFound(FfgateClientError):
    def __init__(self, model: str, problem: Problem | None = None, detail: str | None = None) -> None:
        self.model = model
        self.problem = problem
        super().__init__(detail or f"no custom model '{model}' (by assetId or displayName)")


class GenerationFailed(FfgateClientError):
    def __init__(self, generation: Generation) -> None:
        self.generation = generation
        error = generation.error
        why = f"{error.code}: {error.message}" if error else "no reason given"
        super().__init__(f"generation {generation.id} failed ({why})")


class GenerationCanceled(FfgateClientError):
    def __init__(self, generation: Generation) -> None:
        self.generation = generation
        super().__init__(f"generation {generation.id} was canceled")


class WaitTimeout(FfgateClientError):
    def __init__(self, generation: Generation, timeout_s: float) -> None:
        self.generation = generation
        super().__init__(f"generation {generation.id} still {generation.status} after {timeout_s:g} s")


class DownloadError(FfgateClientError):
    def __init__(self, message: str, problem: Problem | None = None) -> None:
        super().__init__(message)
        self.problem = problem  # what the output's URL answered, when it answered an error


class IntegrityError(DownloadError):
    pass


class WriteError(DownloadError):
    pass


class WebhookVerificationError(FfgateClientError):
    pass
