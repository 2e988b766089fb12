"""The upstream client: custody of the IMS token and the four Firefly calls ffgate makes.

One IMS token per Adobe credential lives in Redis and is shared by every process. It is fetched by one
process at a time (a Redis lock; the others wait for it), dropped from Redis a few minutes before it expires
so the next caller fetches a fresh one, and dropped at once when Firefly answers 401 to it. Neither the
client secret nor the token is ever logged or put into an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import redis.asyncio as aioredis

from ffgate import metrics
from ffgate.budget.org_budget import UpstreamBudget
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
from ffgate.redis.locks import once_for_all
from ffgate.redis.scripts import Script

log = logging.getLogger(__name__)

LOCK_TTL_S = 15.0
LOCK_WAIT_S = 15.0
LISTING_WAIT_S = 5.0  # a listing (inside a client's request) waits this long for the reads budget at most
FETCH_FAILURE_MEMORY_S = 60.0  # readiness: a failed token fetch counts this long, unless a token turns up
_METHODS = {"generate": "POST", "status": "GET", "models": "GET", "cancel": "PUT"}


@dataclass(frozen=True)
class Accepted:
    job_id: str
    status_url: str
    cancel_url: str


def parse_retry_after(value: str | None, *, default: float = 60.0, now: float | None = None) -> float:
    """Seconds to wait from a `retry-after` header that may be delta-seconds or an HTTP-date."""
    if not value or not value.isascii():
        return default
    value = value.strip()
    with contextlib.suppress(ValueError):
        seconds = float(value)  # RFC 9110 says digits; a decimal is taken too, but not "nan", "inf" or "-5"
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class TokenCustody:
    def __init__(
        self, settings: Settings, redis: aioredis.Redis, http: httpx.AsyncClient, keys: Keys
    ) -> None:
        if not (settings.adobe_client_id and settings.adobe_client_secret):
            raise UpstreamAuthError("FFGATE_ADOBE_CLIENT_ID and FFGATE_ADOBE_CLIENT_SECRET are not set")
        self._settings = settings
        self._client_id: str = settings.adobe_client_id
        self._redis = redis
        self._delete_if_equal = Script(redis, "delete_if_equal")
        self._http = http
        self._key = keys.ims_token(self._client_id)
        self._lock_key = keys.ims_lock(self._client_id)
        self._local: tuple[str, float] | None = None  # (token, monotonic deadline)
        self._local_lock = asyncio.Lock()
        self._failed: tuple[float, str] | None = None  # (monotonic, outcome) of a failed last fetch
        self._probed_at: float | None = None  # when readiness last fetched a token itself

    def _fetched(self, ok: bool, outcome: str) -> None:
        metrics.IMS_TOKEN_FETCHES.labels(outcome).inc()
        self._failed = None if ok else (time.monotonic(), outcome)

    async def unusable(self) -> str | None:
        """Why no token can be had now (None: one can), for readiness probes, which must not each ask IMS:
        a token held here or shared in Redis is usable; without one, the last fetch's failure within
        FETCH_FAILURE_MEMORY_S is the answer; only when there is neither a token nor a recent attempt is
        one fetched (at most once per FETCH_FAILURE_MEMORY_S per process, then shared with every process)."""
        if self._local and time.monotonic() < self._local[1]:
            return None
        if await self._redis.pttl(self._key) > 0:  # another process fetched one: shared here too
            return None
        now = time.monotonic()
        if self._failed and now - self._failed[0] < FETCH_FAILURE_MEMORY_S:
            return f"the last IMS token fetch, {now - self._failed[0]:.0f}s ago, failed ({self._failed[1]})"
        if self._probed_at is not None and now - self._probed_at < FETCH_FAILURE_MEMORY_S:
            return None  # fetched a moment ago, and expired or dropped since: the next call fetches again
        self._probed_at = now
        try:
            await self.get()
        except UpstreamError as exc:
            return exc.detail
        return None

    @property
    def client_id(self) -> str:
        return self._client_id

    async def get(self) -> str:
        if self._local and time.monotonic() < self._local[1]:
            return self._local[0]
        async with self._local_lock:  # one Redis round per process, however many callers are waiting
            if self._local and time.monotonic() < self._local[1]:
                return self._local[0]
            token, ttl_ms = await self._shared_token()
            self._local = (token, time.monotonic() + ttl_ms / 1000)
            return token

    async def invalidate(self, token: str) -> None:
        """Forget `token` after Firefly refused it, unless another process already replaced it."""
        if self._local and self._local[0] == token:
            self._local = None
        await self._delete_if_equal(keys={"key": self._key}, args={"value": token})

    async def _shared_token(self) -> tuple[str, int]:
        found = await once_for_all(
            self._redis,
            self._lock_key,
            lock_ttl_s=LOCK_TTL_S,
            wait_s=LOCK_WAIT_S,
            ready=self._read_shared,
            produce=self._fetch_and_store,
        )
        if found is None:
            raise UpstreamUnavailable("timed out waiting for another process to fetch the IMS token")
        return found

    async def _read_shared(self) -> tuple[str, int] | None:
        """The token in Redis and its remaining life (ms), if there is one."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(self._key)
        pipe.pttl(self._key)
        cached, ttl_ms = await pipe.execute()
        if cached is None or ttl_ms <= 0:
            return None
        log.info("using the shared IMS token, kept for another %ss", ttl_ms // 1000)
        return cached.decode(), ttl_ms

    async def _fetch_and_store(self) -> tuple[str, int]:
        secret = self._settings.adobe_client_secret
        assert secret is not None
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": secret.get_secret_value(),
            "scope": self._settings.adobe_scopes,
        }
        try:
            response = await self._http.post(self._settings.ims_token_url, data=form)
        except httpx.TransportError as exc:
            metrics.upstream_call("ims_token", None)
            self._fetched(False, "unavailable")
            raise UpstreamUnavailable(f"Adobe IMS unreachable: {type(exc).__name__}") from None
        metrics.upstream_call("ims_token", response.status_code)
        if response.status_code >= 500:
            self._fetched(False, "unavailable")
            raise UpstreamUnavailable("Adobe IMS is unavailable", upstream_status=response.status_code)
        if response.status_code != 200:
            self._fetched(False, "refused")
            code = _json(response).get("error", "ims_error")
            raise UpstreamAuthError(
                f"Adobe IMS refused the credentials ({response.status_code} {code})",
                upstream_status=response.status_code,
                code=str(code),
            )
        body = _json(response)
        token = body.get("access_token")
        expires_in = int(body.get("expires_in", 0))
        if not isinstance(token, str) or expires_in <= 0:
            self._fetched(False, "refused")
            raise UpstreamAuthError("Adobe IMS answered without a usable token")
        self._fetched(True, "ok")
        # Keep it until `margin` before expiry; a short-lived token is kept for at least half its life.
        keep_s = max(expires_in - self._settings.token_refresh_margin_s, expires_in // 2, 1)
        await self._redis.set(self._key, token, ex=keep_s)
        log.info("fetched a new IMS token, valid %ss, shared for %ss", expires_in, keep_s)
        return token, keep_s * 1000


class Firefly:
    """Firefly calls with auth headers, one retry after a 401, and errors translated into ours.

    Submits spend `budget`, which the dispatch script takes before the call. Status calls and model
    listings spend `reads`: the main budget when FFGATE_UPSTREAM_POLLS_COUNT is set, else a budget of
    their own (FFGATE_UPSTREAM_POLL_RPM, 0: unlimited), so polling can never starve submits. A 429
    from Firefly pauses the budget the call drew from, for every process.
    """

    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        http: httpx.AsyncClient,
        keys: Keys,
        status_http: httpx.AsyncClient | None = None,
    ) -> None:
        self._settings = settings
        self._http = http  # submits (and IMS): the submit lane
        self._status_http = status_http or http  # status, cancel and listings: the status lane
        self.tokens = TokenCustody(settings, redis, http, keys)
        cred = self.tokens.client_id
        self.budget = UpstreamBudget(
            redis, keys, cred, settings.upstream_rpm, settings.upstream_rpd, settings.upstream_burst
        )
        self.reads = (
            self.budget
            if settings.upstream_polls_count
            else UpstreamBudget(redis, keys, cred, settings.upstream_poll_rpm, 0, reads=True)
        )

    async def list_models(self, published_state: str, request_id: str) -> list[dict[str, Any]]:
        """Every page of `GET /v3/custom-models`, merged."""
        items: list[dict[str, Any]] = []
        start, limit = 0, 50
        while True:
            params = {"publishedState": published_state, "start": str(start), "limit": str(limit)}
            url = f"{self._settings.firefly_base}/v3/custom-models"
            body = _json(await self._read("models", url, request_id, LISTING_WAIT_S, params=params))
            page = body.get("custom_models") or []
            items.extend(page)
            total = int(body.get("total_count") or 0)
            start += len(page)
            has_next = bool((body.get("_links") or {}).get("next"))
            if not page or start >= total or not (has_next or start < total):
                return items

    async def submit(self, request: dict[str, Any], request_id: str) -> Accepted:
        """`request` is a generation's stored request: the Firefly body plus the `modelVersion` it was
        resolved to at submit (sent as `x-model-version`; records made before it was stored get the
        setting)."""
        url = f"{self._settings.firefly_base}/v3/images/generate-async"
        body = {name: value for name, value in request.items() if name != "modelVersion"}
        headers = {"x-model-version": str(request.get("modelVersion") or self._settings.model_version)}
        response = await self._call(
            "generate", url, request_id, json=body, headers=headers, budget=self.budget
        )
        body = _json(response)
        try:
            return Accepted(str(body["jobId"]), str(body["statusUrl"]), str(body["cancelUrl"]))
        except KeyError as exc:  # an answer, so the job may well exist: `upstream_status` says so
            raise UpstreamUnavailable(
                f"Firefly answered {response.status_code} without {exc.args[0]}",
                upstream_status=response.status_code,
            ) from None

    async def status(self, status_url: str, request_id: str) -> dict[str, Any]:
        """Raises UpstreamRateLimited at once, without a request, when the reads budget is spent."""
        return _json(await self._read("status", status_url, request_id, 0.0))

    async def cancel(self, cancel_url: str, request_id: str) -> None:
        await self._call("cancel", cancel_url, request_id, http=self._status_http)

    async def _read(
        self, endpoint: str, url: str, request_id: str, max_wait_s: float, **kwargs: Any
    ) -> httpx.Response:
        """A call that spends the reads budget, waiting for it up to `max_wait_s`."""
        member = f"read-{secrets.token_hex(6)}"
        deadline = time.monotonic() + max_wait_s
        while (wait := await self.reads.acquire(member)) > 0:
            if time.monotonic() + wait > deadline:
                raise UpstreamRateLimited(
                    "ffgate's own budget for Firefly status calls and listings is spent",
                    retry_after_s=wait,
                    level="ffgate",
                )
            await asyncio.sleep(wait)
        try:
            return await self._call(
                endpoint, url, request_id, budget=self.reads, http=self._status_http, **kwargs
            )
        finally:
            await self.reads.settle(member)

    async def _call(
        self,
        endpoint: str,
        url: str,
        request_id: str,
        budget: UpstreamBudget | None = None,
        http: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        extra_headers: dict[str, str] = kwargs.pop("headers", {})
        method = _METHODS[endpoint]
        client = http or self._http
        for attempt in (1, 2):
            token = await self.tokens.get()
            headers = {
                "Authorization": f"Bearer {token}",
                "x-api-key": self.tokens.client_id,
                "x-request-id": request_id,
                "Accept": "application/json",
                **extra_headers,
            }
            try:
                response = await client.request(method, url, headers=headers, **kwargs)
                metrics.upstream_call(endpoint, response.status_code)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                metrics.upstream_call(endpoint, None)
                raise UpstreamUnavailable(f"Firefly unreachable: {type(exc).__name__}") from None
            except httpx.TimeoutException as exc:
                metrics.upstream_call(endpoint, None)
                raise UpstreamTimeout(f"Firefly did not answer in time: {type(exc).__name__}") from None
            except httpx.TransportError as exc:
                metrics.upstream_call(endpoint, None)
                raise UpstreamTimeout(
                    f"Firefly connection failed mid-request: {type(exc).__name__}"
                ) from None
            if response.status_code == 401 and attempt == 1:
                log.warning("Firefly refused the IMS token (401); fetching a new one")
                await self.tokens.invalidate(token)
                continue
            try:
                _raise_for_status(response)
            except UpstreamRateLimited as exc:
                log.warning("Firefly 429 (level %s); pausing for %.1fs", exc.level, exc.retry_after_s)
                if budget is not None:
                    metrics.RETRY_AFTER_PAUSES.inc()
                    await budget.pause(exc.retry_after_s)
                raise
            return response
        raise UpstreamAuthError("Firefly refused a freshly fetched IMS token", upstream_status=401)


def proves_not_taken(exc: UpstreamError) -> bool:
    """Whether this answer to generate-async proves Firefly did not create the job, so that sending it
    again cannot pay twice. Adobe documents 202, 400, 403, 408, 413, 415, 422, 429 and 500 for it
    (shared/research/firefly-api.md, 3.4 and 5.2) and no 5xx as "no job was created"; so only these prove it:

    - the request never left: no connection (refused, DNS, connect timeout) or no free pool slot;
    - IMS refused our credentials, or Firefly refused the token (401 twice): it was not processed;
    - 429 `rate_limited`: the request was refused before processing;
    - 400, 403, 413, 415 and 422: refused as invalid (these fail the job, they are not sent again).

    Everything else may have created a job: a timeout or a connection lost mid-request, 408
    `timeout_error` (documented with no word on the job), every 5xx (500 `runtime_error`, and 502, 503 and
    504 from Adobe's edge, which are not documented at all), and a 2xx without a job id.
    """
    if isinstance(exc, UpstreamRateLimited | UpstreamAuthError | UpstreamRejected):
        return True  # (a 408 is not among the refusals: it is raised as UpstreamUnavailable)
    return isinstance(exc, UpstreamUnavailable) and exc.upstream_status is None


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    body = _json(response)
    code = str(body.get("error_code") or body.get("reason") or status)
    message = str(body.get("message") or response.reason_phrase)
    if status == 429:
        raise UpstreamRateLimited(
            f"Firefly rate limit: {message}",
            retry_after_s=parse_retry_after(response.headers.get("retry-after")),
            level=response.headers.get("x-access-rate-limit-level"),
        )
    if status >= 500 or status == 408:
        raise UpstreamUnavailable(f"Firefly {status}: {message}", upstream_status=status, code=code)
    error: UpstreamError = UpstreamRejected(f"Firefly {status}: {message}", upstream_status=status, code=code)
    if status == 401:
        error = UpstreamAuthError("Firefly refused the IMS token", upstream_status=401, code=code)
    elif body.get("validation_errors"):
        error.detail = f"{error.detail}: {json.dumps(body['validation_errors'])[:500]}"
    raise error


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
