"""ffgate.logs: JSON or text lines, carrying the ids bound in the current context."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from ffgate.logs import bind, bound, configure_logging, current_request_id, set_request_id

log = logging.getLogger("ffgate.test")


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Where configure_logging sends the lines; the root logger is put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    try:
        yield out
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _json_lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_carry_time_level_process_logger_message_and_the_bound_ids(stream: io.StringIO) -> None:
    configure_logging("INFO", "worker", "json", stream=stream)

    async def job(n: int) -> None:
        bind(request_id=f"req-{n}", generation_id=f"gen_{n}", client_id=f"cli_{n}")
        await asyncio.sleep(0)  # the other job runs meanwhile: each task keeps its own ids
        log.info("polled %s", f"gen_{n}", extra={"polls": n})

    async def main() -> None:
        await asyncio.gather(job(1), job(2))
        log.info("between jobs")

    asyncio.run(main())
    first, second, between = _json_lines(stream)
    assert first["message"] == "polled gen_1" and first["polls"] == 1
    assert (first["request_id"], first["generation_id"], first["client_id"]) == ("req-1", "gen_1", "cli_1")
    assert (second["request_id"], second["generation_id"], second["client_id"]) == ("req-2", "gen_2", "cli_2")
    assert first["level"] == "INFO" and first["logger"] == "ffgate.test" and first["process"] == "worker"
    assert first["time"].endswith("+00:00") and next(iter(first)) == "time"
    # Outside the jobs nothing is bound: a request id of "-", and no generation or client at all.
    assert between["request_id"] == "-"
    assert "generation_id" not in between and "client_id" not in between


def test_a_traceback_is_one_field_of_one_line(stream: io.StringIO) -> None:
    configure_logging("INFO", "gateway", "json", stream=stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("handling failed")
    [line] = _json_lines(stream)
    assert line["level"] == "ERROR"
    assert "RuntimeError: boom" in line["exc_info"] and "Traceback" in line["exc_info"]


def test_uvicorn_colour_copies_are_left_out(stream: io.StringIO) -> None:
    configure_logging("INFO", "gateway", "json", stream=stream)
    logging.getLogger("uvicorn.error").info("Started", extra={"color_message": "\x1b[36mStarted\x1b[0m"})
    [line] = _json_lines(stream)
    assert "color_message" not in line and line["message"] == "Started"


def test_bound_ids_last_for_the_block_only(stream: io.StringIO) -> None:
    configure_logging("INFO", "worker", "json", stream=stream)

    def body() -> None:
        set_request_id("outer")
        with bound(request_id="inner", generation_id="gen_x", client_id="cli_x"):
            log.info("inside")
            assert current_request_id() == "inner"
        log.info("after")
        assert current_request_id() == "outer"

    contextvars.copy_context().run(body)  # so "outer" stays in this test
    inside, after = _json_lines(stream)
    assert (inside["request_id"], inside["generation_id"], inside["client_id"]) == ("inner", "gen_x", "cli_x")
    assert after["request_id"] == "outer" and "generation_id" not in after


def test_text_lines_name_the_ids_that_are_known(stream: io.StringIO) -> None:
    configure_logging("INFO", "worker", "text", stream=stream)
    with bound(request_id="r-1", generation_id="gen_t"):
        log.info("sent")
    log.info("idle")
    assert current_request_id() == "-"
    sent, idle = stream.getvalue().splitlines()
    assert sent.endswith(" INFO worker ffgate.test request_id=r-1 generation_id=gen_t sent")
    assert idle.endswith(" INFO worker ffgate.test request_id=- idle")
    with pytest.raises(json.JSONDecodeError):
        json.loads(sent)


def test_noisy_libraries_are_kept_to_warnings(stream: io.StringIO) -> None:
    configure_logging("INFO", "worker", "json", stream=stream)
    logging.getLogger("httpx").info("HTTP Request: GET https://firefly.test/v3/status/1")
    logging.getLogger("httpx").warning("something worth a look")
    [line] = _json_lines(stream)
    assert line["message"] == "something worth a look"
