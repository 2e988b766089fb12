"""Everything the sync and async clients share: no I/O happens here.

An API operation is a generator that yields the `Call`s it needs and receives each `httpx.Response`; the
two clients only differ in how they send a call and sleep (`Client._run`, `AsyncClient._run`). Retrying,
parsing, errors, server-sent events, long-poll deadlines and writing downloads are decided here too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import mimetypes
import os
import random
import re
import secrets
import time
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from ffgate_client import errors
from ffgate_client.models import Event, Generation, GenerationPage, Model, Problem

log = logging.getLogger("ffgate_client")
T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
MAX_WAIT_S = 60  # the gateway's longest long-poll
SSE_READ_TIMEOUT_S = 60.0  # the gateway sends a keep-alive comment every 15 s
DOWNLOAD_CHUNK = 64 * 1024
_ASSET_ID = re.compile(r"^urn:", re.IGNORECASE)


@dataclass(frozen=True)
class Call:
    """One HTTP request of an operation. `url` is a path on the gateway, or an absolute URL."""

    method: str
    url: str
    params: Mapping[str, str | int] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    read_timeout_s: float | None = None  # instead of the client's (long-polls need longer)
    to_gateway: bool = True  # the API key goes with the request only then
    follow_redirects: bool = False


Operation = Generator[Call, httpx.Response, T]


# --- retries ----------------------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    with contextlib.suppress(ValueError):
        seconds = float(value)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """When to send a call again, and after how long.

    Every call the clients make may be repeated safely: GETs, cancels, and submits, which always carry an
    `Idempotency-Key` (the gateway answers a repeated submit with the original generation). So a call is
    retried after a connection error or timeout, and after a 429, 502, 503 or 504, up to `attempts` sends
    in all. A `Retry-After` header is honoured as given, unless it asks for more than `max_retry_after_s`
    (a daily quota resets at midnight UTC): then the error is raised at once. Without one, the wait grows
    exponentially from `backoff_s` to `max_backoff_s`, each with up to half of it as random jitter.
    """

    attempts: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 60.0
    statuses: frozenset[int] = frozenset({429, 502, 503, 504})

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.max_backoff_s, self.backoff_s * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def after_response(self, attempt: int, response: httpx.Response) -> float | None:
        """Seconds to wait before sending again after this (read) answer, or None to keep it."""
        if response.status_code not in self.statuses or attempt >= self.attempts:
            return None
        if response.status_code == 429 and _problem_type(response).endswith(":quota-exceeded"):
            return None
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is None:
            return self.backoff(attempt)
        return retry_after if retry_after <= self.max_retry_after_s else None

    def after_error(self, attempt: int, error: httpx.TransportError) -> float | None:
        """Seconds to wait before sending again after a transport error, or None to give up."""
        if attempt >= self.attempts or isinstance(
            error, httpx.UnsupportedProtocol | httpx.LocalProtocolError
        ):
            return None
        return self.backoff(attempt)


def log_retry(call: Call, attempt: int, delay: float, why: str) -> None:
    log.warning(
        "%s %s: %s; sending again in %.1f s (attempt %d)", call.method, call.url, why, delay, attempt + 1
    )


class Attempts:
    """The sends of one call: counts them and decides, after each failure, how long to wait (or raises)."""

    def __init__(
        self,
        policy: RetryPolicy,
        call: Call,
        give_up: Callable[[Call, httpx.TransportError], errors.FfgateClientError] | None = None,
    ) -> None:
        self.policy = policy
        self.call = call
        self.count = 0
        self._give_up = give_up or unreachable

    def start(self) -> None:
        self.count += 1

    def after_error(self, error: httpx.TransportError) -> float:
        """The wait before the next send; the error (as this package's) when there is none."""
        delay = self.policy.after_error(self.count, error)
        if delay is None:
            raise self._give_up(self.call, error) from error
        log_retry(self.call, self.count, delay, type(error).__name__)
        return delay

    def after_response(self, response: httpx.Response) -> float | None:
        """The wait before the next send after this (read) answer; None to keep the answer."""
        delay = self.policy.after_response(self.count, response)
        if delay is not None:
            log_retry(self.call, self.count, delay, f"{response.status_code} {response.reason_phrase}")
        return delay


# --- answers and errors -----------------------------------------------------------------------------------


def _problem_type(response: httpx.Response) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("type", ""))
    return ""


def problem_of(response: httpx.Response) -> Problem:
    """The problem body of an error answer (one is made up from the answer when it has none)."""
    request_id = response.headers.get("x-request-id", "")
    with contextlib.suppress(ValueError, ValidationError):
        body = response.json()
        if isinstance(body, dict) and "detail" in body:
            return Problem.model_validate({"status": response.status_code, "requestId": request_id, **body})
    text = " ".join(response.text.split())[:200]
    reason = response.reason_phrase or f"HTTP {response.status_code}"
    return Problem(status=response.status_code, title=reason, detail=text or reason, request_id=request_id)


_BY_STATUS: dict[int, type[errors.APIError]] = {
    400: errors.BadRequest,
    401: errors.AuthenticationError,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.BadRequest,
    415: errors.BadRequest,
    422: errors.InvalidRequest,
    503: errors.ServiceUnavailable,
}


def error_for(response: httpx.Response) -> errors.APIError:
    problem = problem_of(response)
    status = response.status_code
    if status == 429:
        kind = errors.QuotaExceeded if problem.type.endswith(":quota-exceeded") else errors.RateLimited
        return kind(problem, parse_retry_after(response.headers.get("retry-after")))
    if status in _BY_STATUS:
        return _BY_STATUS[status](problem)
    return errors.ServerError(problem) if status >= 500 else errors.RequestRefused(problem)


def expect(response: httpx.Response) -> Any:
    """The JSON body of a 2xx answer; the matching APIError for any other."""
    if not response.is_success:
        raise error_for(response)
    try:
        return response.json()
    except ValueError:
        what = f"{response.request.method} {response.request.url.path}"
        raise errors.ProtocolError(
            f"{what} answered {response.status_code} with a body that is not JSON"
        ) from None


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """`data` as `model`; ProtocolError (not pydantic's error) when the gateway sent something else."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        raise errors.ProtocolError(f"unexpected {model.__name__} from the gateway ({where})", data) from None


def unreachable(call: Call, error: httpx.TransportError) -> errors.GatewayUnreachable:
    kind = type(error).__name__
    host = urlsplit(str(error.request.url)).netloc if _has_request(error) else ""
    where = f" at {host}" if host else ""
    return errors.GatewayUnreachable(
        f"no answer from the gateway{where} ({kind}) to {call.method} {call.url}"
    )


def _has_request(error: httpx.TransportError) -> bool:
    try:
        error.request  # noqa: B018 - raises RuntimeError when the error carries none
    except RuntimeError:
        return False
    return True


# --- operations -------------------------------------------------------------------------------------------


def models_op(
    training_mode: str | None = None, published_state: str | None = None, refresh: bool = False
) -> Operation[list[Model]]:
    params: dict[str, str | int] = {}
    if training_mode:
        params["trainingMode"] = training_mode
    if published_state:
        params["publishedState"] = published_state
    if refresh:
        params["refresh"] = "true"
    body = expect((yield Call("GET", "/v1/custom-models", params=params)))
    return [parse(Model, item) for item in body["items"]]


def model_op(asset_id: str) -> Operation[Model]:
    response = yield Call("GET", f"/v1/custom-models/{asset_id}")
    if response.status_code == 404:
        raise errors.ModelNotFound(asset_id, problem_of(response))
    return parse(Model, expect(response))


def match_model(models: Sequence[Model], name: str) -> Model:
    """The model whose assetId or displayName is `name` (exactly, else ignoring case)."""
    for candidates in (
        [m for m in models if name in (m.asset_id, m.display_name)],
        [m for m in models if (m.display_name or "").casefold() == name.casefold()],
    ):
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            ids = ", ".join(m.asset_id for m in candidates)
            raise errors.ModelNotFound(
                name, detail=f"{len(candidates)} models are called '{name}' ({ids}): give the assetId"
            )
    raise errors.ModelNotFound(name)


def resolve_model_op(model: str) -> Operation[str]:
    """An assetId as it is; a displayName looked up among the models the gateway lists."""
    if _ASSET_ID.match(model):
        return model
    return match_model((yield from models_op()), model).asset_id


def parse_size(size: str | tuple[int, int] | Mapping[str, int] | None) -> dict[str, int] | None:
    if size is None:
        return None
    if isinstance(size, str):
        found = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", size)
        if not found:
            raise ValueError(f"size '{size}' is not WIDTHxHEIGHT, e.g. 2048x2048")
        return {"width": int(found[1]), "height": int(found[2])}
    if isinstance(size, tuple):
        return {"width": int(size[0]), "height": int(size[1])}
    return {"width": int(size["width"]), "height": int(size["height"])}


def generation_body(
    prompt: str,
    model_id: str,
    *,
    n: int | None,
    seeds: Sequence[int] | None,
    size: str | tuple[int, int] | Mapping[str, int] | None,
    model_version: str | None,
    webhook: str | Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None,
    options: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The `POST /v1/generations` body: only what was given, so the gateway's defaults apply to the rest."""
    body: dict[str, Any] = {**(options or {}), "prompt": prompt, "customModelId": model_id}
    if n is not None:
        body["numVariations"] = n
    if seeds:
        body["seeds"] = list(seeds)
    if (parsed := parse_size(size)) is not None:
        body["size"] = parsed
    if model_version is not None:
        body["modelVersion"] = model_version
    if webhook is not None:
        body["webhook"] = {"url": webhook} if isinstance(webhook, str) else dict(webhook)
    if metadata is not None:
        body["metadata"] = dict(metadata)
    return body


def new_idempotency_key() -> str:
    return f"ffc-{uuid.uuid4()}"


def generate_op(model: str, body: dict[str, Any], idempotency_key: str) -> Operation[Generation]:
    model_id = yield from resolve_model_op(model)
    body = {**body, "customModelId": model_id}
    response = yield Call("POST", "/v1/generations", json=body, headers={"Idempotency-Key": idempotency_key})
    if response.status_code == 422:
        problem = problem_of(response)
        if any((e.get("loc") or [None])[-1] == "customModelId" for e in problem.errors or []):
            raise errors.ModelNotFound(model, problem, problem.detail)
    return parse(Generation, expect(response))


def get_op(gen_id: str, wait_s: int = 0, since: str | None = None) -> Operation[Generation]:
    params: dict[str, str | int] = {}
    read_timeout: float | None = None
    if wait_s > 0:
        params["wait"] = wait_s
        read_timeout = wait_s + 15.0
        if since:
            params["since"] = since
    response = yield Call("GET", f"/v1/generations/{gen_id}", params=params, read_timeout_s=read_timeout)
    return parse(Generation, expect(response))


def page_op(status: str | None, limit: int, cursor: str | None) -> Operation[GenerationPage]:
    params: dict[str, str | int] = {"limit": limit}
    if status:
        params["status"] = status
    if cursor:
        params["cursor"] = cursor
    return parse(GenerationPage, expect((yield Call("GET", "/v1/generations", params=params))))


def cancel_op(gen_id: str) -> Operation[Generation]:
    response = yield Call("POST", f"/v1/generations/{gen_id}/cancel")
    return parse(Generation, expect(response))


def generation_id(generation: str | Generation) -> str:
    return generation if isinstance(generation, str) else generation.id


class Watch:
    """The long-polls of `watch`/`wait`: each asks for the next change of status, for at most `poll_s` and
    never past the deadline; None once the generation is terminal or the time is up."""

    def __init__(self, timeout_s: float | None, poll_s: float) -> None:
        self.timeout_s = timeout_s
        self.deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self.poll_s = max(1, min(MAX_WAIT_S, math.ceil(poll_s)))

    def next_wait(self, last: Generation) -> int | None:
        if last.terminal:
            return None
        if self.deadline is None:
            return self.poll_s
        remaining = self.deadline - time.monotonic()
        return None if remaining <= 0 else max(1, min(self.poll_s, math.ceil(remaining)))

    def finish(self, last: Generation) -> Generation:
        if not last.terminal:
            raise errors.WaitTimeout(last, self.timeout_s or 0)
        return last


# --- server-sent events -----------------------------------------------------------------------------------


class EventStream:
    """Parses `GET /v1/generations/{id}/events` line by line and knows where to resume.

    The stream is over after the terminal event. If the connection drops before that, the client connects
    again with `Last-Event-ID` (the last event it yielded), so no event is repeated or lost; a run of
    failed reconnects is bounded by the retry policy, and any event received resets the count.
    """

    def __init__(self, gen_id: str, last_event_id: str | None, policy: RetryPolicy) -> None:
        self.gen_id = gen_id
        self.last_event_id = last_event_id
        self.policy = policy
        self.done = False
        self.failures = 0
        self._reset()

    def _reset(self) -> None:
        self._id: str | None = None
        self._event = "message"
        self._data: list[str] = []

    def call(self) -> Call:
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        self._reset()  # a partial event of a dropped connection is never dispatched
        url = f"/v1/generations/{self.gen_id}/events"
        return Call("GET", url, headers=headers, read_timeout_s=SSE_READ_TIMEOUT_S)

    def feed(self, line: str) -> Event | None:
        """One line of the stream (without its line ending); the event it completes, if any."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: the gateway's keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            self._id = value
        elif name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None

    def _dispatch(self) -> Event | None:
        if not self._data:
            self._reset()
            return None
        try:
            payload = json.loads("\n".join(self._data))
        except ValueError:
            raise errors.ProtocolError(f"an event of {self.gen_id} is not JSON") from None
        generation = parse(Generation, payload)
        event = Event(id=self._id or self.last_event_id or "", event=self._event, generation=generation)
        self._reset()
        self.last_event_id = event.id or self.last_event_id
        self.failures = 0
        self.done = generation.terminal
        return event

    def retry_after_error(self, call: Call, error: httpx.TransportError | None) -> float:
        """The wait before reconnecting after a dropped stream; raises when it is time to give up."""
        self.failures += 1
        if error is None:
            delay = self.policy.backoff(self.failures) if self.failures < self.policy.attempts else None
            why = "the stream ended before the generation did"
        else:
            delay = self.policy.after_error(self.failures, error)
            why = type(error).__name__
        if delay is None:
            if error is None:
                raise errors.GatewayUnreachable(f"the event stream of {self.gen_id} keeps ending early")
            raise unreachable(call, error) from error
        log_retry(call, self.failures, delay, why)
        return delay

    def retry_after_response(self, call: Call, response: httpx.Response) -> float:
        """The wait before reconnecting after an error answer (read); raises it when it is not retryable."""
        self.failures += 1
        delay = self.policy.after_response(self.failures, response)
        if delay is None:
            raise error_for(response)
        log_retry(call, self.failures, delay, str(response.status_code))
        return delay


# --- downloads --------------------------------------------------------------------------------------------

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
DEFAULT_TEMPLATE = "{id}-{n}.{ext}"


@dataclass(frozen=True)
class DownloadProgress:
    """Reported while an output downloads: its index, where it goes, bytes so far, bytes expected."""

    index: int
    path: Path
    received: int
    total: int | None
    done: bool = False


ProgressCallback = Callable[[DownloadProgress], None]


@dataclass(frozen=True)
class DownloadTarget:
    index: int
    url: str
    path: Path
    size: int | None
    sha256: str | None
    to_gateway: bool  # the key goes with the request only then


def _extension(content_type: str | None, url: str) -> str:
    if content_type and content_type.split(";")[0].strip().lower() in _EXTENSIONS:
        return _EXTENSIONS[content_type.split(";")[0].strip().lower()]
    suffix = PurePosixPath(urlsplit(url).path).suffix.lstrip(".").lower()
    if suffix in ("jpg", "jpeg", "png", "webp", "gif"):
        return "jpg" if suffix == "jpeg" else suffix
    guessed = mimetypes.guess_extension(content_type or "") or ".bin"
    return guessed.lstrip(".")


def plan_downloads(
    generation: Generation, directory: Path, template: str, base_url: str
) -> list[DownloadTarget]:
    """Where each output goes. Template fields: {id}, {index} (0-based, as in the API), {n} (1-based),
    {seed}, {ext}. The result must be a plain file name, and no two outputs may share one."""
    base = httpx.URL(base_url)
    targets: list[DownloadTarget] = []
    for index, output in enumerate(generation.outputs):
        image = output.image
        url = urljoin(str(base), image.url)
        name = template.format(
            id=generation.id,
            index=index,
            n=index + 1,
            seed=output.seed,
            ext=_extension(image.content_type, url),
        )
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise ValueError(f"the name template gives '{name}', which is not a plain file name")
        target = httpx.URL(url)
        same_origin = (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)
        targets.append(DownloadTarget(index, url, directory / name, image.size, image.sha256, same_origin))
    if len({t.path for t in targets}) < len(targets):
        raise ValueError(f"the name template '{template}' gives two outputs the same name")
    return targets


class Sink:
    """One output being written: to a temporary file beside the final one, checked, then renamed into place,
    so a file under the final name is always complete. Leaving the `with` block by an exception (an
    interrupted download, a full disk, Ctrl-C) deletes the temporary file."""

    def __init__(self, target: DownloadTarget, progress: ProgressCallback | None) -> None:
        self.target = target
        self.progress = progress
        self.received = 0
        self.total: int | None = target.size
        self._hash = hashlib.sha256()
        self._file: Any = None
        self._temp: Path | None = None

    def __enter__(self) -> Sink:
        directory = self.target.path.parent
        temp = directory / f".{self.target.path.name}.{secrets.token_hex(4)}.part"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            # Not mkstemp: its files are 0600, and the saved image should get the usual mode (umask).
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise errors.WriteError(f"cannot write in {directory}: {exc.strerror or exc}") from exc
        self._temp = temp
        self._file = os.fdopen(fd, "wb")
        return self

    def start(self, response: httpx.Response) -> None:
        length = response.headers.get("content-length")
        if self.total is None and length and length.isdigit():
            self.total = int(length)
        self._report()

    def write(self, chunk: bytes) -> None:
        try:
            self._file.write(chunk)
        except OSError as exc:
            raise errors.WriteError(f"cannot write {self.target.path}: {exc.strerror or exc}") from exc
        self._hash.update(chunk)
        self.received += len(chunk)
        self._report()

    def finish(self) -> Path:
        target = self.target
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        except OSError as exc:
            raise errors.WriteError(f"cannot write {target.path}: {exc.strerror or exc}") from exc
        if target.size is not None and self.received != target.size:
            raise errors.IntegrityError(
                f"output {target.index} is {self.received} bytes; the gateway announced {target.size}"
            )
        digest = self._hash.hexdigest()
        if target.sha256 is not None and digest != target.sha256.lower():
            raise errors.IntegrityError(
                f"output {target.index} has SHA-256 {digest}; the gateway announced {target.sha256}"
            )
        assert self._temp is not None
        try:
            os.replace(self._temp, target.path)
        except OSError as exc:
            raise errors.WriteError(f"cannot write {target.path}: {exc.strerror or exc}") from exc
        self._temp = None
        self._report(done=True)
        return target.path

    def _report(self, done: bool = False) -> None:
        if self.progress is not None:
            self.progress(
                DownloadProgress(self.target.index, self.target.path, self.received, self.total, done)
            )

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None


def download_call(target: DownloadTarget) -> Call:
    # A stored output may redirect to a short-lived store URL; httpx drops the key when the origin changes.
    headers = {"Accept": "image/*, */*"}
    return Call(
        "GET",
        target.url,
        headers=headers,
        read_timeout_s=60.0,
        to_gateway=target.to_gateway,
        follow_redirects=True,
    )


def download_refused(target: DownloadTarget, response: httpx.Response) -> errors.DownloadError:
    """An output's URL answered an error (after the retries): e.g. 403 once a presigned URL has expired."""
    problem = problem_of(response)
    return errors.DownloadError(
        f"output {target.index} could not be fetched: {response.status_code} {problem.detail}", problem
    )


def download_failed(call: Call, error: httpx.TransportError) -> errors.DownloadError:
    where = urlsplit(call.url)._replace(query="", fragment="").geturl()  # a presigned query is a credential
    return errors.DownloadError(f"download of {where} interrupted ({type(error).__name__})")
