"""One example per request and response body of the OpenAPI document, keyed by schema name (or by
`operationId:media type` for a body without a named schema). tests/test_openapi.py validates each against
its model, so an example cannot drift from what the gateway accepts and answers."""

from __future__ import annotations

import json
from typing import Any

_GEN = "gen_Q2F0cy1hcmUtbmljZQ"
_SELF = f"/v1/generations/{_GEN}"
_MODEL = {
    "assetId": "urn:aaid:sc:VA6C2:dbbb0065-edbf-466e-9e9b-617bcad30f1d",  # the emulator has it too
    "displayName": "Router on a volcano",
    "assetName": "router-subject",
    "trainingMode": "subject",
    "conceptId": "white router",
    "publishedState": "published",
    "baseModel": {"name": "firefly-image-model", "version": "3"},
    "samplePrompt": "a white router on a volcano",
    "createdDate": "2026-11-02T09:14:00Z",
    "modifiedDate": "2026-11-03T10:00:00Z",
    "version": "1",
}
_GENERATION: dict[str, Any] = {
    "id": _GEN,
    "status": "succeeded",
    "createdAt": "2026-12-01T10:00:00Z",
    "updatedAt": "2026-12-01T10:00:21Z",
    "completedAt": "2026-12-01T10:00:21Z",
    "request": {"prompt": "a white router on a volcano", "customModelId": _MODEL["assetId"]},
    "metadata": {"ticket": "OPS-1234"},
    "queue": None,
    "upstream": {"jobId": "urn:ff:jobs:e3b0c442-98fc-1c14-9afb-f4c8996fb924"},
    "outputs": [
        {
            "seed": 1234,
            "image": {
                "url": "https://firefly-outputs.example/abc.jpg",
                "width": 2048,
                "height": 2048,
                "contentType": "image/jpeg",
            },
        }
    ],
    "error": None,
    "warnings": [],
    "links": {"self": _SELF, "cancel": f"{_SELF}/cancel", "events": f"{_SELF}/events"},
}
_CLIENT: dict[str, Any] = {
    "id": "cli_7d3b9a",
    "name": "billing",
    "scopes": ["models:read", "generate"],
    "rateLimit": {"requestsPerMinute": 120},
    "dailyImageQuota": 500,
    "createdAt": "2026-12-01T09:00:00Z",
    "updatedAt": "2026-12-01T09:00:00Z",
    "revokedAt": None,
}
_KEY = "ffk_" + "x" * 43
_DELIVERY = {
    "webhookId": f"msg_{_GEN}_5",
    "event": "generation.succeeded",
    "attempt": 1,
    "statusCode": 200,
    "durationMs": 42,
    "error": None,
    "at": "2026-12-01T10:00:22Z",
    "nextAttemptAt": None,
}

EXAMPLES: dict[str, Any] = {
    "GenerationRequest": {
        "prompt": "a white router on a volcano",
        "customModelId": _MODEL["assetId"],
        "numVariations": 1,
        "size": {"width": 2048, "height": 2048},
        "metadata": {"ticket": "OPS-1234"},
    },
    "Generation": _GENERATION,
    "GenerationList": {"items": [_GENERATION], "nextCursor": None},
    "DeliveryList": {"items": [_DELIVERY]},
    "ClientCreate": {
        "name": "billing",
        "scopes": ["models:read", "generate"],
        "rateLimit": {"requestsPerMinute": 120},
        "dailyImageQuota": 500,
    },
    "ClientUpdate": {"rateLimit": {"requestsPerMinute": 240}, "dailyImageQuota": None},
    "Client": _CLIENT,
    "ClientKey": {**_CLIENT, "apiKey": _KEY},
    "ClientCreated": {**_CLIENT, "apiKey": _KEY, "webhookSecret": "whsec_" + "y" * 32},
    "ClientList": {"items": [_CLIENT]},
    "ModelList": {"items": [_MODEL], "total": 1, "cachedAt": "2026-12-01T09:58:00Z"},
    "Health": {"status": "ok"},
    "ModelRecordBody": {"modelVersion": "image4_custom", "unavailable": None},
    "ModelRecordOut": {
        "assetId": _MODEL["assetId"],
        "modelVersion": "image4_custom",
        "unavailable": None,
        "updatedAt": "2026-12-01T09:30:00Z",
    },
    "ModelRecordList": {
        "items": [
            {
                "assetId": _MODEL["assetId"],
                "modelVersion": "image4_custom",
                "unavailable": None,
                "updatedAt": "2026-12-01T09:30:00Z",
            }
        ]
    },
    "getCustomModel:application/json": _MODEL,
    "streamGenerationEvents:text/event-stream": {
        "id": "5",
        "event": "succeeded",
        "data": json.dumps(_GENERATION, separators=(",", ":")),
    },
    "LinkRequest": {"expiresIn": 86400},
    "createOutputLink:application/json": {"expiresIn": 86400},
    "SignedLink": {
        "url": f"{_SELF}/outputs/0?expires=1764669600&sig=3q2-7w",
        "expiresAt": "2026-12-02T10:00:00.000Z",
    },
    "getGenerationOutput:image/*": "(the image's bytes, as Firefly made them)",
    "headGenerationOutput:image/*": "(no body: the headers of GET)",
    "ClientGenerationList": {"items": [{"clientId": _CLIENT["id"], "generation": _GENERATION}]},
    "QueueView": {
        "clients": [
            {
                "clientId": _CLIENT["id"],
                "depth": 2,
                "oldestWaitSeconds": 31.5,
                "head": [{"id": _GEN, "position": 0, "etaSeconds": 12}],
            }
        ]
    },
    "BudgetView": {
        "credential": "ffgate-adobe-client",
        "minute": {"limit": 4, "used": 3, "remaining": 1},
        "day": {"limit": 9000, "used": 412, "remaining": 8588},
        "pausedUntil": None,
        "breaker": "closed",
    },
    "metrics:text/plain": "# TYPE ffgate_http_requests_total counter\nffgate_http_requests_total 1.0\n",
}
