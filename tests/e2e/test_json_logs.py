"""Logs as JSON lines (the default): every line of the gateway and the workers is one JSON object, and the
worker's lines about a generation (submit, polls, webhook delivery) carry its request, generation and client
ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emulator.seed import ROUTER_MODEL_ID
from tests.receiver import Receiver
from tests.stack import running_stack, wait_terminal

REQUEST_ID = "json-logs-test-request-0001"


def _lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for raw in text.splitlines():
        line = json.loads(raw)  # every line, or the test fails here
        assert isinstance(line, dict), raw
        assert {"time", "level", "logger", "message", "process", "request_id"} <= line.keys(), raw
        lines.append(line)
    return lines


def test_log_lines_are_json_and_name_the_request_the_generation_and_the_client(workdir: Path) -> None:
    with running_stack(workdir, FFGATE_WEBHOOK_ALLOWED_CIDRS="127.0.0.0/8") as stack, Receiver() as receiver:
        client_id, key = stack.create_client(scopes=["generate", "models:read"])
        with stack.client(key=key) as client:
            created = client.post(
                "/v1/generations",
                json={
                    "prompt": "a router in the rain",
                    "customModelId": ROUTER_MODEL_ID,
                    "webhook": {"url": f"{receiver.url}/hooks"},
                },
                headers={"X-Request-ID": REQUEST_ID},
            )
            assert created.status_code == 202, created.text
            gen_id = created.json()["id"]
            assert wait_terminal(client, gen_id)["status"] == "succeeded"
        receiver.wait_for(1)

        gateway = _lines(stack.log("gateway"))
        worker = _lines(stack.log("worker-1"))
        assert {line["process"] for line in gateway} == {"gateway"}
        assert {line["process"] for line in worker} == {"worker"}

        about = [line for line in worker if gen_id in line["message"]]
        accepted = [line for line in about if "accepted by Firefly" in line["message"]]
        delivered = [line for line in about if line["message"].startswith("webhook ")]
        assert accepted and delivered, about
        for line in about:
            assert line["request_id"] == REQUEST_ID, line
            assert line["generation_id"] == gen_id, line
            assert line["client_id"] == client_id, line
        # A line about nothing in particular names no generation (the ids do not leak between jobs).
        started = next(
            line for line in worker if line["message"].startswith("worker ") and "started" in line["message"]
        )
        assert started["request_id"] == "-" and "generation_id" not in started, started
