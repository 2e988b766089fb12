"""Client records as Redis holds them, read back without their secrets."""

from __future__ import annotations

from ffgate.clients.store import ApiClient


def test_a_client_record_reads_back_without_its_secrets() -> None:
    client = ApiClient.from_hash(
        {
            "id": "cli_1",
            "name": "billing",
            "scopes": "models:read,generate",
            "rpm": "60",
            "dailyImageQuota": "",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "",
            "revokedAt": "",
            "keyHash": "ab" * 32,
            "webhookSecret": "whsec_x",
        }
    )
    assert client.scopes == ("models:read", "generate")
    assert (client.daily_image_quota, client.revoked_at, client.updated_at) == (None, None, client.created_at)
    assert "whsec_x" not in repr(client) and "ab" * 32 not in repr(client)
