"""Tokens of the Firefly-compatible `/ims/token` on a real Redis: issued for a client's id and key, stored as
a hash, gone when they expire, when the client is revoked and when its key is rotated."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from ffgate.clients.access_tokens import AccessTokens, is_access_token
from ffgate.clients.api_keys import ApiKeys
from ffgate.clients.store import ClientStore
from ffgate.errors import RateLimited, Unauthorized
from ffgate.redis.keys import Keys
from tests.redis_db import PREFIX

KEYS = Keys(PREFIX)


def _stores(redis: aioredis.Redis, ttl_s: int = 60) -> tuple[ClientStore, AccessTokens]:
    api_keys = ApiKeys(redis, KEYS, b"test pepper for tokens")
    return ClientStore(redis, KEYS, api_keys), AccessTokens(redis, KEYS, api_keys, ttl_s)


async def _client(store: ClientStore, rpm: int = 60) -> tuple[str, str]:
    issued = await store.create(
        name="t", scopes=["generate"], requests_per_minute=rpm, daily_image_quota=None
    )
    return issued.client.id, issued.api_key.get_secret_value()


@pytest.mark.anyio
async def test_a_token_is_issued_for_a_clients_own_id_and_key_and_kept_only_as_a_hash(
    redis: aioredis.Redis,
) -> None:
    store, tokens = _stores(redis)
    client_id, key = await _client(store)
    other_id, _ = await _client(store)

    issued = await tokens.issue(client_id, key)

    token = issued.token.get_secret_value()
    assert is_access_token(token) and issued.expires_in == 60
    caller = await tokens.authenticate(token)
    assert caller is not None and caller.client_id == client_id and caller.scopes == {"generate"}
    stored = [k async for k in redis.scan_iter(f"{PREFIX}access-token:*")]
    assert len(stored) == 1 and token.encode() not in stored[0] and 0 < await redis.ttl(stored[0]) <= 60
    for wrong_id, wrong_key in ((other_id, key), (client_id, "ffk_not_it")):
        with pytest.raises(Unauthorized):
            await tokens.issue(wrong_id, wrong_key)
    assert await tokens.authenticate("ffat_never_issued") is None


@pytest.mark.anyio
async def test_a_token_expires_when_it_says(redis: aioredis.Redis) -> None:
    store, tokens = _stores(redis, ttl_s=1)
    client_id, key = await _client(store)
    token = (await tokens.issue(client_id, key)).token.get_secret_value()
    assert await tokens.authenticate(token) is not None
    await asyncio.sleep(1.2)
    assert await tokens.authenticate(token) is None


@pytest.mark.anyio
async def test_revoking_or_rotating_the_client_ends_its_tokens_at_once(redis: aioredis.Redis) -> None:
    store, tokens = _stores(redis)
    for change in (store.revoke, store.rotate):
        client_id, key = await _client(store)
        token = (await tokens.issue(client_id, key)).token.get_secret_value()
        await change(client_id)
        assert await tokens.authenticate(token) is None


@pytest.mark.anyio
async def test_asking_for_a_token_counts_against_the_rate_limit(redis: aioredis.Redis) -> None:
    store, tokens = _stores(redis)
    client_id, key = await _client(store, rpm=1)
    await tokens.issue(client_id, key)
    with pytest.raises(RateLimited):
        await tokens.issue(client_id, key)
