"""The upstream client (service/firefly.py): retry-after parsing, IMS token custody in the real test Redis,
and Firefly error translation. IMS and Firefly are `httpx.MockTransport` handlers: unit tests of one class.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import redis.asyncio as aioredis

from ffgate.config import Settings
from ffgate.errors import (
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ffgate.redis.keys import Keys
from ffgate.upstream.firefly import Firefly, TokenCustody, parse_retry_after, proves_not_taken
from tests.redis_db import PREFIX, QUEUE_REDIS_URL, connect, make_settings

SECRET = "s3cr3t-Do-Not-Show-9f1c"
SETTINGS = make_settings(adobe_client_id="adobe-client-1", adobe_client_secret=SECRET)
KEYS = Keys(PREFIX)
STATUS_URL = "https://firefly.test/v3/status/fj-1"

Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


# --- parse_retry_after --------------------------------------------------------------------------------------

NOW = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT


@pytest.mark.parametrize(("value", "seconds"), [("120", 120.0), (" 7 ", 7.0), ("0", 0.0), ("1.5", 1.5)])
def test_retry_after_in_delta_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_retry_after_as_a_future_http_date() -> None:
    assert parse_retry_after("Tue, 14 Nov 2023 22:14:05 GMT", now=NOW) == 45.0
    assert parse_retry_after(formatdate(NOW + 90, usegmt=True), now=NOW) == 90.0


def test_retry_after_as_a_past_http_date_means_now() -> None:
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now=NOW) == 0.0


@pytest.mark.parametrize("value", ["soon", "Tue, 99 Nov 2023", "", None, "12 seconds", "nan", "inf"])
def test_retry_after_garbage_gives_the_default(value: str | None) -> None:
    # "nan" and "inf" parse as floats, yet are no delay-seconds (RFC 9110: digits only): waiting 0 s would
    # answer a 429 with a retry storm, waiting forever overflows the budget's pause.
    assert parse_retry_after(value, now=NOW) == 60.0
    assert parse_retry_after(value, default=5.0, now=NOW) == 5.0


# --- IMS token custody --------------------------------------------------------------------------------------


class FakeIms:
    """Adobe IMS's token endpoint: checks the credentials, hands out tok-1, tok-2, ... and counts calls."""

    def __init__(self, *, expires_in: int = 86399, delay_s: float = 0.0, refuse: bool = False) -> None:
        self.expires_in = expires_in
        self.delay_s = delay_s
        self.refuse = refuse
        self.calls = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        assert (request.method, str(request.url)) == ("POST", "https://ims.test/ims/token/v3")
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        assert form["grant_type"] == "client_credentials"
        assert form["client_id"] == "adobe-client-1"
        assert form["client_secret"] == SECRET
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        if self.refuse:
            body = {"error": "invalid_client", "error_description": f"bad client_secret {SECRET}"}
            return httpx.Response(401, json=body)
        token = {"access_token": f"tok-{self.calls}", "token_type": "bearer", "expires_in": self.expires_in}
        return httpx.Response(200, json=token)


@pytest.fixture
async def http_factory() -> AsyncIterator[Callable[[Handler], httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []

    def make(handler: Handler) -> httpx.AsyncClient:
        clients.append(httpx.AsyncClient(transport=httpx.MockTransport(handler)))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


@pytest.mark.anyio
async def test_the_token_is_fetched_once_and_shared_through_redis(
    redis: aioredis.Redis,
    http_factory: Callable[[Handler], httpx.AsyncClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ims = FakeIms()
    custody = TokenCustody(SETTINGS, redis, http_factory(ims), KEYS)
    assert await custody.get() == "tok-1"
    assert await custody.get() == "tok-1"
    assert ims.calls == 1

    async with connect() as other_redis:  # another process, with its own memory
        other = TokenCustody(SETTINGS, other_redis, http_factory(ims), KEYS)
        assert await other.get() == "tok-1"
    assert ims.calls == 1
    assert "tok-1" not in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.anyio
async def test_concurrent_callers_in_two_processes_cause_one_ims_call(
    redis: aioredis.Redis, http_factory: Callable[[Handler], httpx.AsyncClient]
) -> None:
    ims = FakeIms(delay_s=0.2)
    async with connect() as other_redis:
        one = TokenCustody(SETTINGS, redis, http_factory(ims), KEYS)
        two = TokenCustody(SETTINGS, other_redis, http_factory(ims), KEYS)
        tokens = await asyncio.gather(*(custody.get() for custody in [one, two] * 10))
    assert tokens == ["tok-1"] * 20
    assert ims.calls == 1


@pytest.mark.anyio
async def test_the_shared_token_expires_refresh_margin_before_the_token(
    redis: aioredis.Redis, http_factory: Callable[[Handler], httpx.AsyncClient]
) -> None:
    custody = TokenCustody(SETTINGS, redis, http_factory(FakeIms(expires_in=3600)), KEYS)
    await custody.get()
    key = KEYS.ims_token("adobe-client-1")
    assert await redis.get(key) == b"tok-1"
    assert 3600 - 300 - 1 <= await redis.ttl(key) <= 3600 - 300


@pytest.mark.anyio
async def test_invalidate_drops_the_token_it_names(
    redis: aioredis.Redis, http_factory: Callable[[Handler], httpx.AsyncClient]
) -> None:
    ims = FakeIms()
    custody = TokenCustody(SETTINGS, redis, http_factory(ims), KEYS)
    assert await custody.get() == "tok-1"

    await custody.invalidate("tok-0")  # some older token: the cached one stays
    assert await custody.get() == "tok-1"
    assert ims.calls == 1

    await custody.invalidate("tok-1")
    assert await custody.get() == "tok-2"
    assert ims.calls == 2


@pytest.mark.anyio
async def test_invalidate_keeps_a_token_another_process_already_replaced(
    redis: aioredis.Redis, http_factory: Callable[[Handler], httpx.AsyncClient]
) -> None:
    ims = FakeIms()
    async with connect() as other_redis:
        slow = TokenCustody(SETTINGS, redis, http_factory(ims), KEYS)
        quick = TokenCustody(SETTINGS, other_redis, http_factory(ims), KEYS)
        assert await slow.get() == "tok-1"
        assert await quick.get() == "tok-1"

        # Firefly refused tok-1 to both; `quick` noticed first and fetched tok-2.
        await quick.invalidate("tok-1")
        assert await quick.get() == "tok-2"
        await slow.invalidate("tok-1")

        assert await slow.get() == "tok-2"
    assert ims.calls == 2


@pytest.mark.anyio
async def test_ims_refusing_the_credentials_never_shows_the_secret(
    redis: aioredis.Redis,
    http_factory: Callable[[Handler], httpx.AsyncClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    custody = TokenCustody(SETTINGS, redis, http_factory(FakeIms(refuse=True)), KEYS)

    with pytest.raises(UpstreamAuthError) as caught:
        await custody.get()

    error = caught.value
    assert (error.upstream_status, error.code) == (401, "invalid_client")
    assert SECRET not in str(error)
    assert SECRET not in repr(error)
    assert SECRET not in error.detail
    assert SECRET not in caplog.text
    assert await redis.keys("*") == []  # nothing cached, the lock released


@pytest.mark.anyio
async def test_custody_without_credentials_is_refused(
    redis: aioredis.Redis, http_factory: Callable[[Handler], httpx.AsyncClient]
) -> None:
    settings = make_settings(adobe_client_id=None, adobe_client_secret=None)
    with pytest.raises(UpstreamAuthError, match="FFGATE_ADOBE_CLIENT_SECRET"):
        TokenCustody(settings, redis, http_factory(FakeIms()), KEYS)


# --- Firefly calls and error translation --------------------------------------------------------------------


class FakeFirefly:
    """Routes IMS to a FakeIms and every other request to `answer`, recording what Firefly was sent."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.ims = FakeIms()
        self.answer = answer
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "ims.test":
            return await self.ims(request)
        self.requests.append(request)
        return self.answer(request)


@pytest.fixture
def firefly_for(
    redis: aioredis.Redis, http_factory: Callable[[Handler], httpx.AsyncClient]
) -> Callable[[FakeFirefly], Firefly]:
    def make(upstream: FakeFirefly, settings: Settings = SETTINGS) -> Firefly:
        return Firefly(settings, redis, http_factory(upstream), KEYS)

    return make


def respond(status: int, body: dict[str, Any] | None = None, **headers: str) -> FakeFirefly:
    return FakeFirefly(lambda _: httpx.Response(status, json=body or {}, headers=headers))


@pytest.mark.anyio
async def test_submit_sends_the_documented_headers_and_returns_the_job(
    firefly_for: Callable[[FakeFirefly], Firefly],
) -> None:
    accepted = {"jobId": "fj-1", "statusUrl": STATUS_URL, "cancelUrl": "https://firefly.test/v3/cancel/fj-1"}
    upstream = respond(202, accepted)

    job = await firefly_for(upstream).submit({"prompt": "a lighthouse"}, "req-42")

    assert (job.job_id, job.status_url, job.cancel_url) == ("fj-1", STATUS_URL, accepted["cancelUrl"])
    sent = upstream.requests[0]
    assert str(sent.url) == "https://firefly.test/v3/images/generate-async"
    assert sent.headers["authorization"] == "Bearer tok-1"
    assert sent.headers["x-api-key"] == "adobe-client-1"
    assert sent.headers["x-request-id"] == "req-42"
    assert sent.headers["x-model-version"] == "image3_custom"  # the setting: the request names none


@pytest.mark.anyio
async def test_submit_sends_the_version_stored_with_the_request_as_a_header_only(
    firefly_for: Callable[[FakeFirefly], Firefly],
) -> None:
    accepted = {"jobId": "fj-2", "statusUrl": STATUS_URL, "cancelUrl": "https://firefly.test/v3/cancel/fj-2"}
    upstream = respond(202, accepted)

    await firefly_for(upstream).submit({"prompt": "a lighthouse", "modelVersion": "image4_custom"}, "req-43")

    sent = upstream.requests[0]
    assert sent.headers["x-model-version"] == "image4_custom"
    assert json.loads(sent.content) == {"prompt": "a lighthouse"}


@pytest.mark.anyio
async def test_429_with_retry_after_seconds(firefly_for: Callable[[FakeFirefly], Firefly]) -> None:
    upstream = respond(429, {"message": "Too many requests"}, **{"retry-after": "17"})
    with pytest.raises(UpstreamRateLimited) as caught:
        await firefly_for(upstream).status(STATUS_URL, "req-1")
    assert caught.value.retry_after_s == 17.0
    assert caught.value.retryable


@pytest.mark.anyio
async def test_429_with_retry_after_http_date(firefly_for: Callable[[FakeFirefly], Firefly]) -> None:
    when = formatdate(time.time() + 30, usegmt=True)
    upstream = respond(429, {"message": "Too many requests"}, **{"retry-after": when})
    with pytest.raises(UpstreamRateLimited) as caught:
        await firefly_for(upstream).status(STATUS_URL, "req-1")
    assert 28.5 <= caught.value.retry_after_s <= 30.0


@pytest.mark.anyio
@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_unavailable(firefly_for: Callable[[FakeFirefly], Firefly], status: int) -> None:
    with pytest.raises(UpstreamUnavailable) as caught:
        await firefly_for(respond(status, {"message": "down"})).status(STATUS_URL, "req-1")
    assert caught.value.upstream_status == status
    assert caught.value.retryable


@pytest.mark.anyio
async def test_422_is_rejected_with_fireflys_error_code(
    firefly_for: Callable[[FakeFirefly], Firefly],
) -> None:
    body = {"error_code": "validation_error", "message": "numVariations must be at most 4"}
    with pytest.raises(UpstreamRejected) as caught:
        await firefly_for(respond(422, body)).submit({"prompt": "p"}, "req-1")
    error = caught.value
    assert (error.upstream_status, error.code) == (422, "validation_error")
    assert "numVariations must be at most 4" in error.detail
    assert not error.retryable


@pytest.mark.anyio
async def test_a_401_refreshes_the_token_once_and_retries(
    redis: aioredis.Redis, firefly_for: Callable[[FakeFirefly], Firefly]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer tok-1":
            return httpx.Response(401, json={"error_code": "401013", "message": "Oauth token is not valid"})
        return httpx.Response(200, json={"status": "running", "jobId": "fj-1"})

    upstream = FakeFirefly(answer)

    assert await firefly_for(upstream).status(STATUS_URL, "req-1") == {"status": "running", "jobId": "fj-1"}
    assert [r.headers["authorization"] for r in upstream.requests] == ["Bearer tok-1", "Bearer tok-2"]
    assert upstream.ims.calls == 2
    assert await redis.get(KEYS.ims_token("adobe-client-1")) == b"tok-2"  # shared with the others


@pytest.mark.anyio
async def test_a_401_to_a_fresh_token_is_an_auth_error(firefly_for: Callable[[FakeFirefly], Firefly]) -> None:
    upstream = respond(401, {"error_code": "401013", "message": "Oauth token is not valid"})
    with pytest.raises(UpstreamAuthError) as caught:
        await firefly_for(upstream).status(STATUS_URL, "req-1")
    assert caught.value.upstream_status == 401
    assert len(upstream.requests) == 2
    assert upstream.ims.calls == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (httpx.ConnectError, UpstreamUnavailable),
        (httpx.ConnectTimeout, UpstreamUnavailable),
        (httpx.ReadTimeout, UpstreamTimeout),
    ],
)
async def test_transport_failures_are_translated(
    firefly_for: Callable[[FakeFirefly], Firefly],
    fault: type[httpx.TransportError],
    expected: type[Exception],
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise fault("simulated", request=request)

    with pytest.raises(expected):
        await firefly_for(FakeFirefly(answer)).status(STATUS_URL, "req-1")


# --- budgets: a 429 pauses the budget the call drew from; reads have their own (DB 7) -----------------------


def firefly_on_db7(
    qredis: aioredis.Redis,
    http_factory: Callable[[Handler], httpx.AsyncClient],
    upstream: FakeFirefly,
    **s: Any,
) -> Firefly:
    settings = make_settings(
        redis_url=QUEUE_REDIS_URL,
        adobe_client_id="adobe-client-1",
        adobe_client_secret=SECRET,
        **s,
    )
    return Firefly(settings, qredis, http_factory(upstream), KEYS)


@pytest.mark.anyio
async def test_a_429_on_status_holds_every_status_call_without_sending_it(
    qredis: aioredis.Redis, http_factory: Callable[[Handler], httpx.AsyncClient]
) -> None:
    upstream = respond(429, {"message": "Too many requests"}, **{"retry-after": "17"})
    firefly = firefly_on_db7(qredis, http_factory, upstream)
    with pytest.raises(UpstreamRateLimited):
        await firefly.status(STATUS_URL, "req-1")
    other_process = firefly_on_db7(qredis, http_factory, upstream)

    with pytest.raises(UpstreamRateLimited) as caught:
        await other_process.status(STATUS_URL, "req-2")

    assert caught.value.level == "ffgate"
    assert 16 <= caught.value.retry_after_s <= 17
    assert len(upstream.requests) == 1
    assert await firefly.budget.acquire() == 0  # submits are not held by a status call's 429


@pytest.mark.anyio
async def test_a_429_on_submit_pauses_the_orgs_budget(
    qredis: aioredis.Redis, http_factory: Callable[[Handler], httpx.AsyncClient]
) -> None:
    upstream = respond(429, {"message": "Too many requests"}, **{"retry-after": "9"})
    firefly = firefly_on_db7(qredis, http_factory, upstream)
    with pytest.raises(UpstreamRateLimited):
        await firefly.submit({"prompt": "p"}, "req-1")
    assert 8 <= await firefly.budget.acquire() <= 9


@pytest.mark.anyio
async def test_status_calls_spend_a_budget_of_their_own(
    qredis: aioredis.Redis, http_factory: Callable[[Handler], httpx.AsyncClient]
) -> None:
    upstream = respond(200, {"status": "running"})
    firefly = firefly_on_db7(qredis, http_factory, upstream, upstream_rpm=1, upstream_poll_rpm=2)
    await firefly.status(STATUS_URL, "req-1")
    await firefly.status(STATUS_URL, "req-2")
    with pytest.raises(UpstreamRateLimited) as caught:
        await firefly.status(STATUS_URL, "req-3")
    assert caught.value.retry_after_s > 59
    assert len(upstream.requests) == 2
    assert await firefly.budget.acquire() == 0  # the org's budget for submits is untouched


@pytest.mark.anyio
async def test_status_calls_can_be_made_to_count_against_the_orgs_budget(
    qredis: aioredis.Redis, http_factory: Callable[[Handler], httpx.AsyncClient]
) -> None:
    upstream = respond(200, {"status": "running"})
    firefly = firefly_on_db7(qredis, http_factory, upstream, upstream_rpm=2, upstream_polls_count=True)
    await firefly.status(STATUS_URL, "req-1")
    assert await firefly.budget.acquire() == pytest.approx(30, abs=0.1)  # paced: one per 30 s


# --- never pay twice: which answers to generate-async prove Firefly did not take the job ---------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "not_taken"),
    [
        (400, True),
        (403, True),
        (413, True),
        (415, True),
        (422, True),
        (429, True),
        (408, False),
        (500, False),
        (502, False),
        (503, False),
        (504, False),
        (202, False),  # accepted, but without a job id: the job may exist
    ],
)
async def test_only_documented_refusals_prove_a_submit_was_not_taken(
    firefly_for: Callable[[FakeFirefly], Firefly], status: int, not_taken: bool
) -> None:
    with pytest.raises(UpstreamError) as caught:
        await firefly_for(respond(status, {"error_code": "x"})).submit({"prompt": "p"}, "req-1")
    assert proves_not_taken(caught.value) is not_taken


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fault", "not_taken"),
    [
        (httpx.ConnectError, True),
        (httpx.ConnectTimeout, True),
        (httpx.PoolTimeout, True),
        (httpx.ReadTimeout, False),
        (httpx.WriteTimeout, False),
        (httpx.ReadError, False),
        (httpx.RemoteProtocolError, False),
    ],
)
async def test_only_a_request_that_never_left_proves_a_submit_was_not_taken(
    firefly_for: Callable[[FakeFirefly], Firefly], fault: type[httpx.TransportError], not_taken: bool
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise fault("simulated", request=request)

    with pytest.raises(UpstreamError) as caught:
        await firefly_for(FakeFirefly(answer)).submit({"prompt": "p"}, "req-1")
    assert proves_not_taken(caught.value) is not_taken
