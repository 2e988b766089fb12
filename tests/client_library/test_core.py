"""The client library's shared decisions on their own (no stack): retry policy, problem parsing, the event
stream parser and download planning; the transport is httpx's MockTransport where one is needed."""

from __future__ import annotations

import email.utils
import json
import time
from pathlib import Path

import ffgate_client as ffc
import httpx
import pytest
from ffgate_client import Client, RetryPolicy
from ffgate_client._core import Call, EventStream, parse_retry_after, plan_downloads

GENERATION = {
    "id": "gen_1",
    "status": "succeeded",
    "createdAt": "2026-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:00:01Z",
    "request": {"prompt": "a router"},
    "outputs": [
        {"seed": 1, "image": {"url": "/v1/generations/gen_1/outputs/0", "contentType": "image/png"}},
        {"seed": 2, "image": {"url": "https://store.example/x/2.jpeg?X-Amz-Signature=s"}},
    ],
    "links": {"self": "/v1/generations/gen_1", "cancel": "/c", "events": "/e"},
    "reused": {"from": "gen_0"},  # a field this version does not know: kept
}


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (parse_retry_after(later) or 0) <= 31
    for unusable in (None, "", "soon", "-4", "nan"):
        assert parse_retry_after(unusable) is None


def answer(status: int, headers: dict[str, str] | None = None, body: object = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, json=body, request=httpx.Request("GET", "http://gw/x"))


def test_the_policy_retries_what_is_safe_and_worth_it() -> None:
    policy = RetryPolicy(attempts=3, max_retry_after_s=60)
    assert policy.after_response(1, answer(503, {"Retry-After": "2"})) == 2.0
    assert policy.after_response(1, answer(429, {"Retry-After": "61"})) is None  # too long: raise at once
    quota = {"type": "urn:ffgate:problem:quota-exceeded", "status": 429, "detail": "quota"}
    assert policy.after_response(1, answer(429, {"Retry-After": "5"}, quota)) is None
    assert 0.25 <= (policy.after_response(2, answer(502)) or 0) <= 1.0  # back-off, with jitter
    assert policy.after_response(3, answer(503)) is None  # the last attempt
    assert policy.after_response(1, answer(400)) is None and policy.after_response(1, answer(200)) is None
    request = httpx.Request("GET", "http://gw/x")
    assert policy.after_error(1, httpx.ConnectError("refused", request=request)) is not None
    assert policy.after_error(1, httpx.UnsupportedProtocol("ftp", request=request)) is None


def mock(handler: object) -> Client:
    return Client(
        "http://gw", "ffk_k", transport=httpx.MockTransport(handler), retry=RetryPolicy(backoff_s=0.01)
    )  # type: ignore[arg-type]


def test_answers_are_parsed_into_typed_errors_and_unknown_fields_kept() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/generations/gen_1":
            if len([r for r in seen if r.url.path == request.url.path]) == 1:
                return httpx.Response(503, headers={"Retry-After": "0"}, text="<html>busy</html>")
            return httpx.Response(200, json=GENERATION)
        if request.url.path == "/v1/generations/gen_2":
            return httpx.Response(200, text="not json")
        if request.url.path == "/v1/generations/gen_3":
            return httpx.Response(200, json={"id": "gen_3"})
        return httpx.Response(502, text="<html>bad gateway</html>", headers={"X-Request-ID": "r1"})

    with mock(handler) as ff:
        generation = ff.get("gen_1")  # after one 503
        assert generation.status == "succeeded" and generation.model_extra == {"reused": {"from": "gen_0"}}
        assert generation.wire()["reused"] == {"from": "gen_0"} and generation.wire()["links"]["self"]
        assert all(r.headers["authorization"] == "Bearer ffk_k" for r in seen)
        with pytest.raises(ffc.ProtocolError, match="not JSON"):
            ff.get("gen_2")
        with pytest.raises(ffc.ProtocolError, match="Generation"):
            ff.get("gen_3")
        with pytest.raises(ffc.ServerError) as failed:
            ff.cancel("gen_4")
    assert (
        failed.value.status == 502
        and "bad gateway" in failed.value.detail
        and failed.value.request_id == "r1"
    )


def test_the_event_parser_follows_the_sse_format() -> None:
    stream = EventStream("gen_1", None, RetryPolicy())
    assert stream.call().headers.get("Last-Event-ID") is None
    lines = [": keep-alive", "", "id: 7", "event: running", 'data: {"id": "gen_1", "status": "running",',
             'data: "createdAt": "t", "updatedAt": "t"}', ""]  # fmt: skip
    events = [e for e in (stream.feed(line) for line in lines) if e is not None]
    assert [(e.id, e.event, e.generation.status) for e in events] == [("7", "running", "running")]
    assert not stream.done and stream.call().headers["Last-Event-ID"] == "7"
    stream.feed("id: 8")
    stream.feed('data: {"id": "gen_1"')  # a partial event, then the connection drops ...
    stream.call()  # ... and is opened again: the partial event is forgotten
    final = '{"id": "gen_1", "status": "succeeded", "createdAt": "t", "updatedAt": "t"}'
    done = [stream.feed(line) for line in ["id: 9", "event: succeeded", f"data: {final}", ""]]
    assert done[-1] is not None and done[-1].id == "9" and stream.done


def test_a_stream_that_keeps_ending_early_gives_up() -> None:
    stream = EventStream("gen_1", "3", RetryPolicy(attempts=2, backoff_s=0.01))
    call = Call("GET", "/e")
    assert stream.retry_after_error(call, None) < 1
    with pytest.raises(ffc.GatewayUnreachable, match="keeps ending early"):
        stream.retry_after_error(call, None)


def test_downloads_are_planned_by_the_template_and_keyed_only_for_the_gateway(tmp_path: Path) -> None:
    generation = ffc.Generation.model_validate(GENERATION)
    first, second = plan_downloads(generation, tmp_path, "{id}-{n}-{seed}.{ext}", "http://gw:8080")
    assert (first.path.name, first.url, first.to_gateway) == (
        "gen_1-1-1.png",
        "http://gw:8080/v1/generations/gen_1/outputs/0",
        True,
    )
    assert (second.path.name, second.to_gateway) == ("gen_1-2-2.jpg", False)
    for template in ("../{id}.{ext}", "{id}/x.{ext}", "same.{ext}", ""):
        with pytest.raises(ValueError):
            plan_downloads(
                generation.model_copy(update={"outputs": generation.outputs[:1] * 2}),
                tmp_path,
                template,
                "http://gw",
            )


def test_a_bad_gateway_url_is_refused_at_once() -> None:
    for url in ("gateway:8080", "ftp://gw", "http://"):
        with pytest.raises(ValueError, match="http"):
            Client(url)


def test_the_body_sent_holds_only_what_was_given() -> None:
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/custom-models":
            return httpx.Response(
                200, json={"items": [{"assetId": "urn:m", "displayName": "Router"}], "total": 1}
            )
        sent.append(json.loads(request.content))
        assert request.headers["idempotency-key"] == "k-1"
        return httpx.Response(202, json=GENERATION | {"status": "queued"})

    with mock(handler) as ff:
        ff.generate("a router", model="router", idempotency_key="k-1")  # displayName, any case
        ff.generate("a router", model="urn:x", n=2, size="1024x1024", model_version="image4_custom",
                    webhook="https://hooks.example/h", metadata={"a": 1}, options={"contentClass": "photo"},
                    idempotency_key="k-1")  # fmt: skip
    assert sent[0] == {"prompt": "a router", "customModelId": "urn:m"}
    assert sent[1] == {
        "contentClass": "photo",
        "prompt": "a router",
        "customModelId": "urn:x",
        "numVariations": 2,
        "size": {"width": 1024, "height": 1024},
        "modelVersion": "image4_custom",
        "webhook": {"url": "https://hooks.example/h"},
        "metadata": {"a": 1},
    }
