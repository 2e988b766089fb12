"""Unknown paths (404) and methods (405) answer in the envelope of the Adobe service the path belongs to; only
the emulator's own control API keeps FastAPI's `{"detail"}`."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import Emu


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "allow"),
    [
        (
            "GET",
            "/v3/images/generate",
            404,
            {"error_code": "not_found", "message": "Resource not found"},
            None,
        ),
        ("GET", "/", 404, {"error_code": "not_found", "message": "Resource not found"}, None),
        (
            "GET",
            "/v3/images/generate-async",
            405,
            {"error_code": "method_not_allowed", "message": "Method Not Allowed"},
            "POST",
        ),
        (
            "POST",
            "/v3/status/urn:ff:jobs:emu001:x",
            405,
            {"error_code": "method_not_allowed", "message": "Method Not Allowed"},
            "GET",
        ),
        (
            "GET",
            "/v3/cancel/urn:ff:jobs:emu001:x",
            405,
            {"error_code": "method_not_allowed", "message": "Method Not Allowed"},
            "PUT",
        ),
        (
            "GET",
            "/v3/custom-models/urn:aaid:sc:VA6C2:x",
            404,
            {"reason": "Not Found", "message": "Resource not found"},
            None,
        ),
        (
            "POST",
            "/v3/custom-models",
            405,
            {"reason": "Method Not Allowed", "message": "Method Not Allowed"},
            "GET",
        ),
        (
            "POST",
            "/ims/token/v1",
            404,
            {"error": "not_found", "error_description": "Resource not found"},
            None,
        ),
        (
            "GET",
            "/ims/token/v3",
            405,
            {"error": "method_not_allowed", "error_description": "Method Not Allowed"},
            "POST",
        ),
    ],
)
def test_adobe_paths_answer_in_their_own_envelope(
    emu: Emu, method: str, path: str, status: int, body: dict[str, str], allow: str | None
) -> None:
    response = emu.http.request(method, path, headers=emu.headers())

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body
    if allow is not None:
        assert response.headers["allow"] == allow


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [("GET", "/images/", 404, "NoSuchKey"), ("PUT", "/images/abc.jpg", 405, "MethodNotAllowed")],
)
def test_output_storage_paths_answer_in_s3_xml(
    emu: Emu, method: str, path: str, status: int, code: str
) -> None:
    response = emu.http.request(method, path)

    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/xml")
    assert f"<Code>{code}</Code>" in response.text


def test_the_control_api_keeps_fastapis_bodies(emu: Emu) -> None:
    unknown_job = emu.http.get("/_emulator/jobs/urn:ff:jobs:emu001:nope")
    unknown_path = emu.http.get("/_emulator/nope")

    assert (unknown_job.status_code, unknown_job.json()) == (404, {"detail": "unknown job id"})
    assert (unknown_path.status_code, unknown_path.json()) == (404, {"detail": "Not Found"})
