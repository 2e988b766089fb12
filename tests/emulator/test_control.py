from __future__ import annotations

from tests.emulator.conftest import Emu


def test_status_urls_point_at_the_public_url(emu: Emu) -> None:
    emu.config(jobLatencyS=0)

    job = emu.submit()

    assert emu.public_url.startswith("http://localhost:")
    assert not emu.url.startswith("http://localhost:")
    assert job["statusUrl"].startswith(f"{emu.public_url}/v3/status/")
    assert emu.status(job)["status"] == "succeeded"


def test_request_log_pages_with_a_cursor(emu: Emu) -> None:
    emu.generate()
    first = emu.http.get("/_emulator/requests").json()
    emu.http.get("/v3/custom-models", headers=emu.headers(), params={"limit": "3"})

    later = emu.http.get("/_emulator/requests", params={"since": first["next"]}).json()

    assert [item["endpoint"] for item in first["items"]] == ["token", "generate"]
    assert [(item["endpoint"], item["status"]) for item in later["items"]] == [("models", 400)]
    assert later["next"] == first["next"] + 1
    assert set(later["items"][0]) == {
        "seq",
        "at",
        "method",
        "endpoint",
        "path",
        "status",
        "requestId",
        "modelVersion",
        "jobId",
        "customModelId",
        "ignoredFields",
    }


def test_config_patch_answers_the_whole_config_and_rejects_nonsense(emu: Emu) -> None:
    config = emu.config(rpm=10, failureRate=0.5)

    assert config["rpm"] == 10 and config["failureRate"] == 0.5
    assert config["jobLatencyS"] == emu.settings.job_latency_s
    assert emu.http.patch("/_emulator/config", json={"failureRate": 2}).status_code == 422
    assert emu.http.patch("/_emulator/config", json={"rmp": 2}).status_code == 422


def test_reset_restores_a_fresh_emulator(emu: Emu) -> None:
    headers = emu.headers()
    emu.config(rpm=1)
    emu.outcome(promptContains="", outcome="failed")
    emu.fault(endpoint="models", status=500)
    emu.http.delete(f"/_emulator/models/{emu.http.get('/_emulator/models').json()[0]['assetId']}")
    emu.submit()

    emu.http.post("/_emulator/reset").raise_for_status()

    stats = emu.http.get("/_emulator/stats").json()
    assert stats == {
        "tokenRequests": 0,
        "tokensIssued": 0,
        "requests": {"token": 0, "models": 0, "generate": 0, "status": 0, "cancel": 0},
        "responses429": 0,
        "inFlight": 0,
        "peakInFlight": 0,
        "jobs": 0,
        "modelVersions": {},
        "ignoredFields": {},
    }
    assert emu.http.get("/_emulator/config").json()["rpm"] == 0
    assert emu.http.get("/_emulator/faults").json() == []
    assert emu.http.get("/_emulator/outcomes").json() == []
    assert len(emu.http.get("/_emulator/models").json()) == 17
    assert emu.http.get("/_emulator/requests").json() == {"items": [], "next": 0}
    assert emu.http.get("/v3/custom-models", headers=headers).status_code == 200, "tokens survive a reset"
