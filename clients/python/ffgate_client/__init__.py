"""ffgate-client: the Python client of the ffgate gateway to Adobe Firefly Services Custom Models.

    from ffgate_client import Client

    with Client("http://127.0.0.1:8080", key="ffk_...") as ff:
        generation = ff.generate("a white router on a volcano", model="Citi Signal Router Model", n=2)
        generation = ff.wait(generation, timeout=300).raise_for_status()
        paths = ff.download(generation, "out")

`AsyncClient` has the same methods, to be awaited (iterators are async iterators).
"""

import logging

from ffgate_client._async import AsyncClient
from ffgate_client._base import __version__
from ffgate_client._core import DEFAULT_TEMPLATE, DownloadProgress, RetryPolicy
from ffgate_client._sync import Client
from ffgate_client.errors import (
    APIError,
    AuthenticationError,
    BadRequest,
    Conflict,
    DownloadError,
    FfgateClientError,
    GatewayUnreachable,
    GenerationCanceled,
    GenerationFailed,
    IntegrityError,
    InvalidRequest,
    ModelNotFound,
    NotFound,
    PermissionDenied,
    ProtocolError,
    QuotaExceeded,
    RateLimited,
    RequestRefused,
    ServerError,
    ServiceUnavailable,
    WaitTimeout,
    WebhookVerificationError,
    WriteError,
)
from ffgate_client.models import (
    TERMINAL,
    Event,
    Generation,
    GenerationError,
    GenerationPage,
    Model,
    Output,
    OutputImage,
    Problem,
    QueueInfo,
    WebhookMessage,
)
from ffgate_client.webhooks import verify_webhook

# Retries are logged as warnings on "ffgate_client"; nothing is printed unless the application asks.
logging.getLogger("ffgate_client").addHandler(logging.NullHandler())

__all__ = [
    "DEFAULT_TEMPLATE",
    "TERMINAL",
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequest",
    "Client",
    "Conflict",
    "DownloadError",
    "DownloadProgress",
    "Event",
    "FfgateClientError",
    "GatewayUnreachable",
    "Generation",
    "GenerationCanceled",
    "GenerationError",
    "GenerationFailed",
    "GenerationPage",
    "IntegrityError",
    "InvalidRequest",
    "Model",
    "ModelNotFound",
    "NotFound",
    "Output",
    "OutputImage",
    "PermissionDenied",
    "Problem",
    "ProtocolError",
    "QueueInfo",
    "QuotaExceeded",
    "RateLimited",
    "RequestRefused",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "WaitTimeout",
    "WebhookMessage",
    "WebhookVerificationError",
    "WriteError",
    "__version__",
    "verify_webhook",
]
