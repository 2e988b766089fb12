"""The served OpenAPI document: every status and response header each route can answer, and only those,
with one example per request and response body.

Routes declare what is theirs alone (`responses=problem_responses(404, 409)`, a 200 besides a 202, the
headers of their success); what follows from the gateway's own rules is added here, once:

- every `/v1/*` route authenticates (401, 403), counts the request (429) and reads Redis (503), and sends
  `RateLimit-*` for a client key (not for the bootstrap admin key, which has no limit);
- a route with a request body may get JSON that is not JSON (400 `malformed-json`); every POST, PUT and
  PATCH passes the body limits first (413, 415), body or not (service.middleware);
- a 422 only where something can fail validation: a request body, a query parameter, or a header with
  constraints (FastAPI documents a 422 for any parameter, a plain path string included);
- 429 and 503 carry `Retry-After`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from service.compat_errors import surface_of
from service.schemas import Problem

PROBLEM_JSON = "application/problem+json"
BODY_METHODS = {"post", "put", "patch"}

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The caller's request id (echoed when valid) or a new one; also in the problem body.",
        "schema": {"type": "string"},
    },
    "RateLimit-Limit": {
        "description": "The client's requests per minute (not sent for the bootstrap admin key).",
        "schema": {"type": "integer"},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the current window (not sent for the bootstrap admin key).",
        "schema": {"type": "integer"},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the window has room again (not sent for the bootstrap admin key).",
        "schema": {"type": "integer"},
    },
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}},
    "Location": {"description": "The URL of the created resource.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when an earlier request with this Idempotency-Key created the job.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Preference-Applied": {
        "description": "`wait=N` when the `Prefer: wait` preference was honoured (RFC 7240).",
        "schema": {"type": "string"},
    },
    "Allow": {"description": "The methods this path answers.", "schema": {"type": "string"}},
}


def complete(schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    """Rewrite FastAPI's generated document in place into the contract as served."""
    for path, operations in schema.get("paths", {}).items():
        surface = surface_of(path)
        for method, operation in operations.items():
            if surface == "problem":
                _complete_operation(path, method, operation)
            else:
                _compatible_errors(surface, operation)
    _add_examples(schema, examples)
    components = schema.setdefault("components", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(name, None)
    components.setdefault("schemas", {})["Problem"] = Problem.model_json_schema()
    components["headers"] = HEADERS
    return schema


def _complete_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if not _can_fail_validation(operation):
        responses.pop("422", None)
    codes = set()
    if path.startswith("/v1/"):
        codes |= {401, 403, 429, 503}
    if method in BODY_METHODS:
        codes |= {413, 415}
        if "requestBody" in operation:
            codes |= {400}
    for code in codes:
        responses.setdefault(str(code), {})
    authenticated = path.startswith("/v1/")
    for key, response in responses.items():
        status = int(key)
        headers = response.setdefault("headers", {})
        names = ["X-Request-ID"]
        if authenticated:
            names += ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]
        if status in (429, 503):
            names.append("Retry-After")
        for name in names:
            headers.setdefault(name, {"$ref": f"#/components/headers/{name}"})
        if status >= 400:
            response["description"] = HTTPStatus(status).phrase
            response["content"] = {
                PROBLEM_JSON: {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": problem_example(status),
                }
            }
    operation["responses"] = dict(sorted(responses.items()))


def _compatible_errors(surface: str, operation: dict[str, Any]) -> None:
    """The Firefly-, IMS- and OpenAI-compatible routes answer errors in those APIs' own shapes."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if surface == "openai":  # OpenAI answers an invalid request 400, never 422
        responses.pop("422", None)
    for code, response in responses.items():
        if int(code) >= 400:
            response["content"] = {"application/json": {"schema": {"type": "object"}}}
            response["description"] = f"{HTTPStatus(int(code)).phrase}: {response.get('description', '')}"


def _can_fail_validation(operation: dict[str, Any]) -> bool:
    if "requestBody" in operation:
        return True
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query":
            return True
        constraints = {"minLength", "maxLength", "pattern", "minimum", "maximum", "enum"}
        if parameter.get("in") == "header" and _constrained(parameter.get("schema", {}), constraints):
            return True
    return False


def _constrained(schema: dict[str, Any], constraints: set[str]) -> bool:
    return bool(constraints & schema.keys()) or any(
        _constrained(branch, constraints) for branch in schema.get("anyOf", [])
    )


def problem_example(status: int) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase
    slug = {400: "malformed-json", 422: "validation-error", 503: "service-unavailable"}.get(
        status, "-".join(phrase.lower().split())
    )
    example: dict[str, Any] = {
        "type": f"urn:ffgate:problem:{slug}",
        "title": phrase,
        "status": status,
        "detail": f"{phrase}.",
        "requestId": "2f0c8f1e-5d7b-4a39-9d8e-3c1b6f0a7e42",
    }
    if status == 422:
        example["detail"] = "Invalid request: numVariations"
        example["errors"] = [
            {"loc": ["body", "numVariations"], "msg": "Input should be less than or equal to 4"}
        ]
    return example


def _add_examples(schema: dict[str, Any], examples: dict[str, Any]) -> None:
    """An `example` for each JSON body whose schema is a named component (or an operation's own)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            bodies = [operation.get("requestBody", {})] + [
                r for c, r in operation["responses"].items() if int(c) < 400
            ]
            for body in bodies:
                for media, content in body.get("content", {}).items():
                    name = content.get("schema", {}).get("$ref", "").rpartition("/")[2]
                    key = name or f"{operation['operationId']}:{media}"
                    if key in examples:
                        content["example"] = examples[key]
