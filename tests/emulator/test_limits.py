from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx
import pytest

from tests.emulator.conftest import Emu


def test_requests_past_rpm_get_429_with_seconds(emu: Emu) -> None:
    emu.config(rpm=2)
    assert [emu.generate().status_code for _ in range(2)] == [202, 202]

    response = emu.generate()

    assert response.status_code == 429
    assert response.json() == {"error_code": "rate_limited", "message": "Too Many Requests"}
    assert response.headers["x-access-rate-limit-level"] == "org"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert emu.http.get("/_emulator/stats").json()["responses429"] == 1


def test_retry_after_can_be_an_http_date(emu: Emu) -> None:
    emu.config(rpm=1, retryAfterFormat="http-date")
    emu.generate()

    response = emu.generate()

    assert response.status_code == 429
    retry_at = parsedate_to_datetime(response.headers["retry-after"]).timestamp()
    assert time.time() < retry_at <= time.time() + 62


def test_custom_models_share_the_budget_and_use_their_envelope(emu: Emu) -> None:
    emu.config(rpm=1)
    emu.generate()

    response = emu.http.get("/v3/custom-models", headers=emu.headers())

    assert response.status_code == 429
    assert response.json()["reason"] == "Too Many Requests"
    assert "retry-after" in response.headers


def test_a_429_does_not_use_up_budget(emu: Emu) -> None:
    emu.config(rpm=1)
    emu.generate()
    assert [emu.generate().status_code for _ in range(3)] == [429] * 3

    emu.config(rpm=2)

    assert [emu.generate().status_code for _ in range(2)] == [202, 429]


def test_daily_limit(emu: Emu) -> None:
    emu.config(rpd=1)
    emu.generate()

    response = emu.generate()

    assert response.status_code == 429
    assert 1 <= int(response.headers["retry-after"]) <= 86_400


def test_status_calls_count_only_when_configured(emu: Emu) -> None:
    emu.config(rpm=1, jobLatencyS=0)
    job = emu.submit()
    assert [emu.http.get(job["statusUrl"], headers=emu.headers()).status_code for _ in range(3)] == [200] * 3

    emu.config(limitStatusCalls=True)

    assert emu.http.get(job["statusUrl"], headers=emu.headers()).status_code == 429
    assert emu.http.put(job["cancelUrl"], headers=emu.headers()).status_code == 429


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("generate", {"error_code": "service_unavailable", "message": "Service Unavailable"}),
        (
            "models",
            {
                "reason": "Service Unavailable",
                "message": "We are temporarily offline for maintenance. Try again later.",
            },
        ),
    ],
)
def test_counted_fault_answers_the_endpoint_envelope_then_stops(
    emu: Emu, endpoint: str, expected: dict[str, str]
) -> None:
    emu.fault(endpoint=endpoint, status=503, count=2)

    def call() -> httpx.Response:
        if endpoint == "generate":
            return emu.generate()
        return emu.http.get("/v3/custom-models", headers=emu.headers())

    first, second, third = call(), call(), call()

    assert (first.status_code, second.status_code) == (503, 503)
    assert first.json() == expected
    assert third.status_code in (200, 202)


def test_token_fault_uses_the_oauth_envelope(emu: Emu) -> None:
    emu.fault(endpoint="token", status=500, count=1)

    response = emu.http.post("/ims/token/v3", data=emu.token_form())

    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "error_description": "Please try again later"}
    assert emu.http.post("/ims/token/v3", data=emu.token_form()).status_code == 200


def test_timed_fault_lasts_its_duration(emu: Emu) -> None:
    emu.config(jobLatencyS=0)
    job = emu.submit()
    emu.fault(endpoint="status", status=502, durationS=0.3)

    during = emu.http.get(job["statusUrl"], headers=emu.headers())
    time.sleep(0.35)
    after = emu.http.get(job["statusUrl"], headers=emu.headers())

    assert during.status_code == 502
    assert during.json()["error_code"] == "bad_gateway"
    assert after.status_code == 200


@pytest.mark.parametrize(("form", "value"), [("seconds", "7"), ("http-date", None)])
def test_429_fault_carries_retry_after_in_the_chosen_form(emu: Emu, form: str, value: str | None) -> None:
    emu.fault(endpoint="generate", status=429, count=1, retryAfterS=7, retryAfterFormat=form)

    response = emu.generate()

    assert response.status_code == 429
    assert response.json()["error_code"] == "rate_limited"
    assert response.headers["x-access-rate-limit-level"] == "org"
    if value is not None:
        assert response.headers["retry-after"] == value
    else:
        delay = parsedate_to_datetime(response.headers["retry-after"]).timestamp() - time.time()
        assert 6 <= delay <= 9


def test_delay_fault_can_script_a_client_timeout(emu: Emu) -> None:
    emu.fault(endpoint="generate", status=None, count=1, delayS=0.5)
    headers = emu.headers()

    with pytest.raises(httpx.ReadTimeout):
        emu.http.post("/v3/images/generate-async", json={"prompt": "x"}, headers=headers, timeout=0.2)
    started = time.monotonic()
    assert emu.generate().status_code == 202
    assert time.monotonic() - started < 0.3

    # The abandoned request still completes upstream (as it would at Adobe): a second job appears.
    deadline = time.monotonic() + 2
    while emu.http.get("/_emulator/stats").json()["jobs"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_delay_fault_with_a_status_answers_it_late(emu: Emu) -> None:
    emu.fault(endpoint="status", status=503, count=1, delayS=0.2)
    job = emu.submit()

    started = time.monotonic()
    response = emu.http.get(job["statusUrl"], headers=emu.headers())

    assert response.status_code == 503
    assert time.monotonic() - started >= 0.2


def test_clearing_faults(emu: Emu) -> None:
    emu.fault(endpoint="generate", status=503)

    emu.http.delete("/_emulator/faults").raise_for_status()

    assert emu.generate().status_code == 202
