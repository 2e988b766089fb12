"""The compatible surfaces' shapes: which surface a path belongs to and its error body, Firefly's
custom-models paging and query rules, and its status body."""

from __future__ import annotations

from typing import Any

import pytest

from ffgate.errors import BadRequest, NotFound, QuotaExceeded, RateLimited, Unauthorized, Unprocessable
from ffgate.generations.records import Record
from ffgate.generations.states import State
from ffgate.generations.views import Generation
from service import firefly_shapes as shapes
from service.compat_errors import compat_body, surface_of


@pytest.mark.parametrize(
    ("path", "surface"),
    [
        ("/ims/token/v2", "oauth"),
        ("/v3/custom-models", "firefly-models"),
        ("/v3/status/gen_1", "firefly"),
        ("/v3/nowhere", "firefly"),
        ("/v1/images/generations", "openai"),
        ("/v1/models", "openai"),
        ("/v1/generations", "problem"),
        ("/v1/custom-models", "problem"),
    ],
)
def test_each_path_has_its_surface(path: str, surface: str) -> None:
    assert surface_of(path) == surface


def test_error_bodies_per_surface() -> None:
    invalid = Unprocessable("Size 1x1 is not a preset", errors=[{"loc": ["body", "size"], "msg": "no"}])
    assert compat_body("oauth", Unauthorized("bad secret")) == (
        401,
        {"error": "invalid_client", "error_description": "bad secret"},
    )
    assert compat_body("firefly-models", BadRequest("sortBy")) == (
        400,
        {"reason": "Bad Request", "message": "sortBy"},
    )
    assert compat_body("firefly", invalid) == (
        422,
        {
            "error_code": "validation_error",
            "message": "Size 1x1 is not a preset",
            "validation_errors": [{"loc": ["body", "size"], "msg": "no", "type": "value_error"}],
        },
    )
    assert (
        compat_body("firefly", NotFound("gone", code="unknown_job_id"))[1]["error_code"] == "unknown_job_id"
    )
    status, body = compat_body("openai", invalid)
    assert status == 400 and body["error"] == {
        "message": "Size 1x1 is not a preset",
        "type": "invalid_request_error",
        "param": "size",
        "code": "invalid_request",
    }
    assert compat_body("openai", Unauthorized("no"))[1]["error"]["code"] == "invalid_api_key"
    assert (
        compat_body("openai", RateLimited("slow", retry_after_s=3))[1]["error"]["code"]
        == "rate_limit_exceeded"
    )
    assert (
        compat_body("openai", QuotaExceeded("spent", retry_after_s=3))[1]["error"]["type"]
        == "insufficient_quota"
    )


def _models(count: int) -> list[dict[str, Any]]:
    return [
        {"assetId": f"m{i:02}", "assetName": f"{chr(122 - i)}", "modifiedDate": 1000 - i}
        for i in range(count)
    ]


def test_the_models_page_follows_fireflys_defaults_and_links_the_next_page() -> None:
    first = shapes.models_page(_models(12), shapes.parse_model_query({}))
    assert first["total_count"] == 12 and len(first["custom_models"]) == 10
    assert first["custom_models"][0]["assetId"] == "m11"  # modifiedDate, oldest first
    assert first["_links"]["page"]["templated"] is True
    assert "start=10" in first["_links"]["next"]["href"]
    last = shapes.models_page(_models(12), shapes.parse_model_query({"start": "10", "limit": "10"}))
    assert [m["assetId"] for m in last["custom_models"]] == ["m01", "m00"] and "next" not in last["_links"]
    by_name = shapes.models_page(_models(3), shapes.parse_model_query({"sortBy": "-assetName"}))
    assert [m["assetName"] for m in by_name["custom_models"]] == ["z", "y", "x"]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"sortBy": "size"}, "sortBy"),
        ({"publishedState": "gone"}, "publishedState"),
        ({"limit": "5"}, "start"),
        ({"start": "0", "limit": "51"}, "limit"),
        ({"start": "-1"}, "start"),
    ],
)
def test_bad_listing_queries_are_400_naming_the_parameter(params: dict[str, str], names: str) -> None:
    with pytest.raises(BadRequest, match=names):
        shapes.parse_model_query(params)


def test_status_bodies() -> None:
    request = {
        "prompt": "p",
        "customModelId": "m",
        "size": {"width": 2304, "height": 1792},
        "contentClass": "art",
    }
    done = Record(
        id="gen_1",
        state=State.SUCCEEDED,
        created_at="2026-12-01T00:00:00Z",
        request=request,
        outputs=[{"seed": 7, "image": {"url": "https://img/1"}}],
    )
    assert shapes.status_body(done, Generation.from_record(done)) == {
        "jobId": "gen_1",
        "status": "succeeded",
        "result": {
            "size": {"width": 2304, "height": 1792},
            "outputs": [{"seed": 7, "image": {"url": "https://img/1"}}],
            "contentClass": "art",
        },
    }
    failed = Record(
        id="gen_2",
        state=State.FAILED,
        created_at="2026-12-01T00:00:00Z",
        error={"code": "prompt_unsafe", "message": "no", "retryable": False},
    )
    assert shapes.status_body(failed, Generation.from_record(failed)) == {
        "jobId": "gen_2",
        "status": "failed",
        "error_code": "prompt_unsafe",
        "message": "no",
    }
    queued = Record(id="gen_3", state=State.QUEUED, created_at="2026-12-01T00:00:00Z")
    assert shapes.status_body(queued, Generation.from_record(queued)) == {
        "jobId": "gen_3",
        "status": "pending",
    }
