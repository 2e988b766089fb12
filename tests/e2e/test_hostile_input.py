"""Hostile input (issue 11, item 5): each answered 4xx before anything is stored or sent to Firefly, and a
stored record that cannot be shown whole never breaks its client's other reads."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.e2e.test_contract import VALID, assert_problem, generate_calls, record_count
from tests.stack import Stack, wait_terminal

JSON = {"content-type": "application/json"}


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({**VALID, "metadata": nested(300)}, "nested 300 levels deep"),
        ({**VALID, "metadata": nested(17)}, "nested 17 levels deep"),
        ({**VALID, "metadata": {"blob": "x" * 5000}}, "at most 4096"),
        ({**VALID, "numVariations": "2"}, "numVariations"),
        ({**VALID, "numVariations": True}, "numVariations"),
        ({**VALID, "numVariations": 2.5}, "numVariations"),
        ({**VALID, "seeds": ["7"]}, "seeds"),
        ({**VALID, "size": {"width": "2048", "height": 2048}}, "size"),
    ],
)
def test_hostile_generation_bodies_are_422_naming_the_problem(
    stack: Stack, body: dict[str, Any], named: str
) -> None:
    before_calls, before_records = generate_calls(stack), record_count(stack)
    with stack.client() as client:
        problem = assert_problem(client.post("/v1/generations", json=body), 422)
    assert named in problem["detail"] or any(named in str(e) for e in problem["errors"]), problem
    assert generate_calls(stack) == before_calls
    assert record_count(stack) == before_records


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "rateLimit": {"requestsPerMinute": "60"}},
        {"name": "x", "dailyImageQuota": False},
        {"name": "x", "dailyImageQuota": "5"},
        {"name": 7},
    ],
)
def test_loosely_typed_client_bodies_are_refused(stack: Stack, body: dict[str, Any]) -> None:
    with stack.client() as client:
        before = len(client.get("/v1/admin/clients").json()["items"])
        assert_problem(client.post("/v1/admin/clients", json=body), 422)
        assert len(client.get("/v1/admin/clients").json()["items"]) == before


@pytest.mark.parametrize(
    "content",
    [
        b'{"prompt": "caf\xe9", "customModelId": "m"}',  # Latin-1, not UTF-8
        b'{"prompt": "\xff\xfe"}',
        b"[" * 5000 + b"]" * 5000,  # past json's recursion limit
        b'{"metadata": ' + b'{"a": ' * 3000 + b"{}" + b"}" * 3001,
        b'{"prompt": ',
    ],
    ids=["latin-1", "invalid-utf8", "arrays-5000-deep", "objects-3000-deep", "truncated"],
)
def test_bodies_that_are_not_json_are_400_malformed_json(stack: Stack, content: bytes) -> None:
    before_calls, before_records = generate_calls(stack), record_count(stack)
    with stack.client() as client:
        problem = assert_problem(client.post("/v1/generations", content=content, headers=JSON), 400)
        assert problem["type"] == "urn:ffgate:problem:malformed-json"
        patched = client.patch("/v1/admin/clients/cl_x", content=content, headers=JSON)
        assert assert_problem(patched, 400)["type"] == "urn:ffgate:problem:malformed-json"
    assert generate_calls(stack) == before_calls
    assert record_count(stack) == before_records


def test_a_non_ascii_wait_preference_is_ignored_and_queues_one_job(stack: Stack) -> None:
    before = record_count(stack)
    with stack.client() as client:
        response = client.post("/v1/generations", json=VALID, headers=[(b"Prefer", "wait=²".encode())])
        assert response.status_code == 202, response.text
        assert "preference-applied" not in response.headers
        wait_terminal(client, response.json()["id"])
    assert record_count(stack) == before + 1


@pytest.mark.parametrize("last_event_id", ["²", "٣", "-1", "1_0"])
def test_a_non_ascii_last_event_id_starts_from_the_current_state(stack: Stack, last_event_id: str) -> None:
    with stack.client() as client:
        gen_id = client.post("/v1/generations", json=VALID).json()["id"]
        wait_terminal(client, gen_id)
        headers = [(b"Last-Event-ID", last_event_id.encode())]
        with client.stream("GET", f"/v1/generations/{gen_id}/events", headers=headers) as stream:
            assert stream.status_code == 200
            text = "".join(stream.iter_text())
    assert "event: succeeded" in text


@pytest.mark.parametrize("position", ["²", "٣", "1_0", "-5", "1e3"])
def test_a_cursor_without_ascii_digits_is_a_422(stack: Stack, position: str) -> None:
    cursor = base64.urlsafe_b64encode(f"g1:{position}".encode()).decode()
    with stack.client() as client:
        problem = assert_problem(client.get("/v1/generations", params={"cursor": cursor}), 422)
    assert problem["errors"][0]["loc"] == ["query", "cursor"]


def test_a_stored_record_too_deep_to_show_does_not_break_its_clients_reads(stack: Stack) -> None:
    """A record written before the metadata limits (here: by hand) is shown without its metadata."""
    _, key = stack.create_client(name="deep-metadata")
    with stack.client(key=key) as client:
        gen_id = client.post("/v1/generations", json=VALID).json()["id"]
        wait_terminal(client, gen_id)
        stack.redis.hset(f"ffgate:gen:{gen_id}", "metadata", json.dumps(nested(300)))

        shown = client.get(f"/v1/generations/{gen_id}")
        listed = client.get("/v1/generations")
        with client.stream("GET", f"/v1/generations/{gen_id}/events") as stream:
            events = "".join(stream.iter_text())
    assert shown.status_code == 200, shown.text
    assert shown.json()["metadata"] is None
    assert any("metadata cannot be shown" in w for w in shown.json()["warnings"])
    assert listed.status_code == 200 and [g["id"] for g in listed.json()["items"]] == [gen_id]
    assert "event: succeeded" in events


def test_401_names_the_bearer_scheme(stack: Stack) -> None:
    url = stack.gateways["gateway"]
    for response in (
        httpx.get(f"{url}/v1/generations"),
        httpx.post(f"{url}/v1/generations", json=VALID, headers={"Authorization": "Bearer nope"}),
    ):
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
