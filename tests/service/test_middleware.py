"""`RequestContext` (service/middleware.py) in front of a tiny echo app, called in process over ASGI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ffgate.clients.rate_limit import RateLimitState
from ffgate.logs import current_request_id
from service.middleware import RequestContext
from service.response_headers import rate_limit_headers

pytestmark = pytest.mark.anyio

LIMIT = 100


class EchoApp:
    """Answers with what reached it: the body length and the request id the handler saw."""

    def __init__(self) -> None:
        self.calls = 0

        async def echo(request: Request) -> JSONResponse:
            self.calls += 1
            body = await request.body()
            return JSONResponse({"bytes": len(body), "requestId": current_request_id()})

        self.asgi = Starlette(routes=[Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH"])])


@pytest.fixture
def app() -> EchoApp:
    return EchoApp()


@pytest.fixture
async def client(app: EchoApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=RequestContext(app.asgi, max_body_bytes=LIMIT))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield client


def is_generated(request_id: str) -> bool:
    return str(uuid.UUID(request_id)) == request_id


async def test_a_valid_request_id_is_echoed_and_seen_by_the_handler(client: httpx.AsyncClient) -> None:
    response = await client.get("/echo", headers={"X-Request-ID": "caller-req-42"})
    assert response.status_code == 200
    assert response.headers.get_list("x-request-id") == ["caller-req-42"]
    assert response.json()["requestId"] == "caller-req-42"


async def test_a_request_id_is_generated_when_missing(client: httpx.AsyncClient) -> None:
    first = await client.get("/echo")
    second = await client.get("/echo")
    assert is_generated(first.headers["x-request-id"])
    assert first.json()["requestId"] == first.headers["x-request-id"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("given", ["x" * 300, "has spaces in it", "tab\there", "caf\u00e9"])
async def test_an_invalid_request_id_is_replaced(client: httpx.AsyncClient, given: str) -> None:
    response = await client.get("/echo", headers=[(b"x-request-id", given.encode())])
    request_id = response.headers["x-request-id"]
    assert request_id != given
    assert is_generated(request_id)
    assert response.json()["requestId"] == request_id


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["requestId"] == response.headers["x-request-id"]
    assert response.headers.get_list("x-request-id") == [problem["requestId"]]


async def test_a_declared_length_over_the_limit_is_413(app: EchoApp, client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/echo", content=b"{}" + b" " * LIMIT, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)
    assert is_generated(response.headers["x-request-id"])
    assert app.calls == 0


async def test_a_413_carries_the_callers_request_id(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/echo",
        content=b"x" * (LIMIT + 1),
        headers={"content-type": "application/json", "x-request-id": "r-1"},
    )
    assert_problem(response, 413)
    assert response.json()["requestId"] == "r-1"


async def test_a_chunked_body_over_the_limit_is_413(app: EchoApp, client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b" " * 40

    response = await client.post("/echo", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert app.calls == 0


async def test_a_chunked_body_within_the_limit_reaches_the_app_whole(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": "' + b"x" * 40
        yield b"y" * 40 + b'"}'

    response = await client.post("/echo", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json()["bytes"] == 89


async def test_a_body_of_exactly_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b" " * LIMIT, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json()["bytes"] == LIMIT


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_that_is_not_json_is_415(
    app: EchoApp, client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/echo", content=b"prompt=hi", headers=headers)
    assert_problem(response, 415)
    assert app.calls == 0


@pytest.mark.parametrize(
    ("method", "content_type"),
    [
        ("POST", "application/json"),
        ("POST", "application/json; charset=utf-8"),
        ("PATCH", "application/merge-patch+json"),
        ("PUT", "APPLICATION/JSON"),
    ],
)
async def test_json_content_types_are_accepted(
    client: httpx.AsyncClient, method: str, content_type: str
) -> None:
    response = await client.request(
        method, "/echo", content=b'{"a": 1}', headers={"content-type": content_type}
    )
    assert response.status_code == 200
    assert response.json()["bytes"] == 8


async def test_a_post_without_body_or_content_type_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo")
    assert "content-type" not in response.request.headers
    assert response.status_code == 200
    assert response.json()["bytes"] == 0


def test_rate_limit_headers() -> None:
    state = RateLimitState(limit=10, used=3, reset_ms=41_200, refused=False)
    expected = {"RateLimit-Limit": "10", "RateLimit-Remaining": "7", "RateLimit-Reset": "42"}
    assert rate_limit_headers(state) == expected
    spent = RateLimitState(limit=10, used=10, reset_ms=10, refused=True)
    assert rate_limit_headers(spent)["RateLimit-Remaining"] == "0" and spent.reset_s == 1
