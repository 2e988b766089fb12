from __future__ import annotations

import time

import pytest

from tests.emulator.conftest import Emu

UNKNOWN = "urn:ff:jobs:emu001:00000000-0000-4000-8000-000000000000"


def test_job_goes_pending_running_succeeded(emu: Emu) -> None:
    emu.config(jobLatencyS=1.0)
    job = emu.submit(
        {"prompt": "three boats", "seeds": [11, 22, 33], "size": {"width": 1792, "height": 2304}}
    )

    seen = [emu.status(job)["status"]]
    while seen[-1] != "succeeded":
        time.sleep(0.04)
        seen.append(emu.status(job)["status"])

    assert seen[0] == "pending"
    assert "running" in seen
    assert [s for i, s in enumerate(seen) if i == 0 or s != seen[i - 1]] == [
        "pending",
        "running",
        "succeeded",
    ]
    result = emu.status(job)["result"]
    assert result["size"] == {"width": 199, "height": 256}, "1792x2304 drawn to fit the tests' 256 cap"
    assert [output["seed"] for output in result["outputs"]] == [11, 22, 33]
    assert all(output["image"]["url"].startswith(f"{emu.public_url}/images/") for output in result["outputs"])
    assert result["contentClass"] in ("photo", "art")
    assert emu.http.get(f"/_emulator/jobs/{job['jobId']}").json()["statusCalls"] == len(seen) + 1


def test_seeds_are_invented_once_per_variation(emu: Emu) -> None:
    emu.config(jobLatencyS=0)
    job = emu.submit({"prompt": "x", "numVariations": 3, "contentClass": "art"})

    first = emu.status(job)["result"]
    second = emu.status(job)["result"]

    seeds = [output["seed"] for output in first["outputs"]]
    assert len(set(seeds)) == 3
    assert seeds == [output["seed"] for output in second["outputs"]]
    assert first["contentClass"] == "art"


@pytest.mark.parametrize(
    ("outcome", "rule", "expected"),
    [
        (
            "failed",
            ("prompt_unsafe", "The prompt was flagged."),
            ("prompt_unsafe", "The prompt was flagged."),
        ),
        ("failed", (None, None), ("runtime_error", "The job failed.")),
        ("timeout", (None, None), ("timeout_error", "The job timed out.")),
        ("cancelled", (None, None), ("cancelled_error", "The job was cancelled.")),
    ],
)
def test_outcome_rules_decide_how_matching_jobs_end(
    emu: Emu, outcome: str, rule: tuple[str | None, str | None], expected: tuple[str, str]
) -> None:
    emu.outcome(promptContains="DOOM", outcome=outcome, errorCode=rule[0], message=rule[1], latencyS=0.1)
    job = emu.submit({"prompt": "a DOOM prompt"})
    other = emu.submit({"prompt": "a fine prompt"})

    body = emu.wait_for(job, outcome)

    assert body == {
        "jobId": job["jobId"],
        "status": outcome,
        "error_code": expected[0],
        "message": expected[1],
    }
    assert emu.status(other)["status"] in ("pending", "running")


def test_failure_rate_fails_jobs_with_the_configured_code(emu: Emu) -> None:
    emu.config(failureRate=1.0, failureCode="runtime_error", jobLatencyS=0)

    body = emu.status(emu.submit())

    assert body["status"] == "failed"
    assert body["error_code"] == "runtime_error"


def test_cancel_shows_cancel_pending_then_cancelled(emu: Emu) -> None:
    emu.config(jobLatencyS=30)
    job = emu.submit()

    response = emu.http.put(job["cancelUrl"], headers=emu.headers())

    assert response.status_code == 200
    assert response.json() == {}
    assert emu.status(job)["status"] == "cancel_pending"
    assert emu.wait_for(job, "cancelled", timeout=2)["status"] == "cancelled"
    again = emu.http.put(job["cancelUrl"], headers=emu.headers())
    assert again.status_code == 409
    assert again.json() == {"error_code": "job_already_canceled", "message": "The job was already canceled."}


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [("succeeded", 409, "job_completed"), ("failed", 409, "job_completed"), ("timeout", 410, "job_timeout")],
)
def test_cancelling_a_finished_job_is_refused(emu: Emu, outcome: str, status: int, code: str) -> None:
    emu.outcome(promptContains="", outcome=outcome, latencyS=0)
    job = emu.submit()

    response = emu.http.put(job["cancelUrl"], headers=emu.headers())

    assert response.status_code == status
    assert response.json()["error_code"] == code


def test_unknown_job_ids_are_404(emu: Emu) -> None:
    expected = {"error_code": "unknown_job_id", "message": "The job id is unknown."}

    status = emu.http.get(f"/v3/status/{UNKNOWN}", headers=emu.headers())
    cancel = emu.http.put(f"/v3/cancel/{UNKNOWN}", headers=emu.headers())

    assert (status.status_code, status.json()) == (404, expected)
    assert (cancel.status_code, cancel.json()) == (404, expected)


def test_in_flight_and_peak_count_accepted_unfinished_jobs(emu: Emu) -> None:
    emu.config(jobLatencyS=0.4)
    for _ in range(3):
        emu.submit()
    stats = emu.http.get("/_emulator/stats").json()
    assert (stats["inFlight"], stats["peakInFlight"], stats["jobs"]) == (3, 3, 3)

    time.sleep(0.5)
    emu.submit()

    stats = emu.http.get("/_emulator/stats").json()
    assert (stats["inFlight"], stats["peakInFlight"], stats["jobs"]) == (1, 3, 4)
    jobs = emu.http.get("/_emulator/jobs").json()
    assert [job["status"] for job in jobs[:3]] == ["succeeded"] * 3
    assert all(job["finishesAt"] == pytest.approx(job["createdAt"] + 0.4) for job in jobs)
