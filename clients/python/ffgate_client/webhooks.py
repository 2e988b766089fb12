"""Checking that a webhook really comes from ffgate, with the calling client's `whsec_...` secret.

ffgate signs every delivery with Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
`webhook-signature`). This wraps the `standardwebhooks` reference implementation (install
`ffgate-client[webhooks]`), which also refuses a timestamp more than five minutes off (replays).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from ffgate_client.errors import WebhookVerificationError
from ffgate_client.models import WebhookMessage


def verify_webhook(body: bytes | str, headers: Mapping[str, str], secret: str) -> WebhookMessage:
    """The delivery as a `WebhookMessage` if its signature is valid for `secret`; WebhookVerificationError
    otherwise (bad or missing signature, stale timestamp, a body that is not a webhook of ffgate).

    `body` must be the raw request body, byte for byte; `headers` the request's headers (any case)."""
    try:
        import standardwebhooks
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "verify_webhook needs the webhooks extra: pip install 'ffgate-client[webhooks]'"
        ) from exc

    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        verifier = standardwebhooks.Webhook(secret)
        payload = verifier.verify(body, lowered)
    except standardwebhooks.WebhookVerificationError as exc:
        raise WebhookVerificationError(f"webhook not verified: {exc}") from None
    except (ValueError, TypeError) as exc:  # an unreadable secret or a malformed signature header
        raise WebhookVerificationError(f"webhook not verified: {type(exc).__name__}") from None
    try:
        return WebhookMessage.model_validate({**payload, "webhookId": lowered.get("webhook-id", "")})
    except (ValidationError, TypeError) as exc:
        raise WebhookVerificationError("the signed body is not an ffgate webhook") from exc
