"""API clients over two gateways sharing one Redis: keys, scopes, revocation, rate limit and daily quota hold
for both replicas at once, and a key is never seen again after it was issued."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from emulator.seed import ROUTER_MODEL_ID
from tests.e2e.test_contract import assert_problem
from tests.stack import ADMIN_KEY, Stack

pytestmark = pytest.mark.e2e

GW1, GW2 = "gateway", "gateway-2"
GENERATE = {"prompt": "a white router on a volcano", "customModelId": ROUTER_MODEL_ID}


def test_admin_creates_reads_updates_and_revokes_clients(replicas: Stack) -> None:
    with replicas.client(GW1) as admin:
        created = admin.post(
            "/v1/admin/clients",
            json={
                "name": "billing",
                "scopes": ["generate", "models:read"],
                "rateLimit": {"requestsPerMinute": 30},
                "dailyImageQuota": 100,
            },
        )
        assert created.status_code == 201, created.text
        body = created.json()
        replicas.issued_secrets += [body["apiKey"], body["webhookSecret"]]
        assert body.keys() >= {"id", "name", "scopes", "rateLimit", "dailyImageQuota", "createdAt"}
        assert body["apiKey"].startswith("ffk_") and len(body["apiKey"]) > 40
        assert body["webhookSecret"].startswith("whsec_")
        assert (body["scopes"], body["rateLimit"], body["dailyImageQuota"]) == (
            ["generate", "models:read"],
            {"requestsPerMinute": 30},
            100,
        )
        assert created.headers["location"] == f"/v1/admin/clients/{body['id']}"
        client_id = body["id"]

    with replicas.client(GW2) as admin:
        one = admin.get(f"/v1/admin/clients/{client_id}").json()
        assert one["name"] == "billing" and one["revokedAt"] is None
        assert "apiKey" not in one and "webhookSecret" not in one
        assert client_id in {c["id"] for c in admin.get("/v1/admin/clients").json()["items"]}

        changed = admin.patch(
            f"/v1/admin/clients/{client_id}",
            json={"name": "billing-v2", "rateLimit": {"requestsPerMinute": 5}, "dailyImageQuota": None},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["name"] == "billing-v2"
        assert changed.json()["rateLimit"] == {"requestsPerMinute": 5}
        assert changed.json()["dailyImageQuota"] is None
        assert changed.json()["scopes"] == ["generate", "models:read"]  # untouched

        revoked = admin.delete(f"/v1/admin/clients/{client_id}")
        assert revoked.status_code == 200 and revoked.json()["revokedAt"]
        assert admin.delete(f"/v1/admin/clients/{client_id}").status_code == 200  # twice: harmless
        assert_problem(admin.patch(f"/v1/admin/clients/{client_id}", json={"name": "x"}), 409)
        assert_problem(admin.post(f"/v1/admin/clients/{client_id}/rotate"), 409)
        assert_problem(admin.get("/v1/admin/clients/cli_nobody"), 404)
        assert_problem(admin.delete("/v1/admin/clients/cli_nobody"), 404)
        for bad in ({"name": ""}, {"name": "x", "scopes": ["everything"]}, {"name": "x", "scopes": []}):
            assert_problem(admin.post("/v1/admin/clients", json=bad), 422)
        assert_problem(admin.patch(f"/v1/admin/clients/{client_id}", json={"scopes": None}), 422)


def test_a_missing_scope_is_403_and_scope_changes_apply_on_the_other_replica(replicas: Stack) -> None:
    client_id, key = replicas.create_client(GW1, scopes=["models:read"])
    with replicas.client(GW2, key) as reader:
        assert reader.get("/v1/custom-models").status_code == 200
        assert_problem(reader.post("/v1/generations", json=GENERATE), 403)
        assert_problem(reader.get("/v1/generations"), 403)
        assert_problem(reader.get("/v1/admin/clients"), 403)

    with replicas.client(GW1) as admin:
        admin.patch(f"/v1/admin/clients/{client_id}", json={"scopes": ["generate"]}).raise_for_status()
    with replicas.client(GW2, key) as client:  # the next request, on the other gateway
        assert client.post("/v1/generations", json=GENERATE).status_code == 202
        assert_problem(client.get("/v1/custom-models"), 403)


def test_revocation_and_rotation_apply_on_the_other_replica_at_once(replicas: Stack) -> None:
    client_id, key = replicas.create_client(GW1)
    with replicas.client(GW2, key) as client:
        assert client.get("/v1/custom-models").status_code == 200

    with replicas.client(GW1) as admin:
        rotated = admin.post(f"/v1/admin/clients/{client_id}/rotate")
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["apiKey"]
    replicas.issued_secrets.append(new_key)
    assert new_key != key and "webhookSecret" not in rotated.json()
    with replicas.client(GW2, key) as old, replicas.client(GW2, new_key) as new:
        assert_problem(old.get("/v1/custom-models"), 401)
        assert new.get("/v1/custom-models").status_code == 200

    with replicas.client(GW1) as admin:
        admin.delete(f"/v1/admin/clients/{client_id}").raise_for_status()
    with replicas.client(GW2, new_key) as client:
        problem = assert_problem(client.get("/v1/custom-models"), 401)
        assert "revoked" in problem["detail"]


def test_the_rate_limit_holds_for_both_replicas_together(replicas: Stack) -> None:
    _, key = replicas.create_client(GW1, rateLimit={"requestsPerMinute": 10})
    _, other_key = replicas.create_client(GW1, rateLimit={"requestsPerMinute": 10})
    clients = [replicas.client(GW1, key), replicas.client(GW2, key)]
    try:
        for n in range(10):
            response = clients[n % 2].get("/v1/custom-models")
            assert response.status_code == 200, response.text
            assert response.headers["ratelimit-limit"] == "10"
            assert response.headers["ratelimit-remaining"] == str(9 - n)
            assert 1 <= int(response.headers["ratelimit-reset"]) <= 60
        refused = clients[0].get("/v1/custom-models")
        problem = assert_problem(refused, 429)
        assert problem["type"] == "urn:ffgate:problem:rate-limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-limit"] == "10"
        assert refused.headers["ratelimit-remaining"] == "0"
        assert int(refused.headers["ratelimit-reset"]) == int(refused.headers["retry-after"])
        assert_problem(clients[1].post("/v1/generations", json=GENERATE), 429)  # every /v1 route counts
    finally:
        for client in clients:
            client.close()
    with replicas.client(GW2, other_key) as other, replicas.client(GW2) as admin:
        assert other.get("/v1/custom-models").status_code == 200  # each client has its own window
        assert admin.get("/v1/custom-models").status_code == 200  # the bootstrap admin is not limited


def test_the_daily_quota_counts_images_on_both_replicas(replicas: Stack) -> None:
    _, key = replicas.create_client(GW1, dailyImageQuota=5)
    with replicas.client(GW1, key) as one, replicas.client(GW2, key) as two:
        first = one.post("/v1/generations", json={**GENERATE, "numVariations": 4})
        assert first.status_code == 202, first.text
        refused = two.post("/v1/generations", json={**GENERATE, "numVariations": 2})
        problem = assert_problem(refused, 429)
        assert problem["type"] == "urn:ffgate:problem:quota-exceeded"
        now = datetime.now(UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        assert abs(int(refused.headers["retry-after"]) - (midnight - now).total_seconds()) < 5
        assert two.post("/v1/generations", json={**GENERATE, "numVariations": 1}).status_code == 202
        assert_problem(one.post("/v1/generations", json={**GENERATE, "seeds": [7]}), 429)  # one image
        listed = one.get("/v1/generations").json()["items"]
    assert sorted(g["request"].get("numVariations") for g in listed) == [1, 4]  # refused ones made nothing


def run_cli(replicas: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ffgate", "clients", *args],
        env=replicas.env | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_line_manages_clients_the_gateways_accept(replicas: Stack) -> None:
    made = run_cli(replicas, "create", "--name", "made-on-cli", "--scope", "models:read", "--json")
    assert made.returncode == 0, made.stderr
    body: dict[str, Any] = json.loads(made.stdout)
    replicas.issued_secrets += [body["apiKey"], body["webhookSecret"]]
    assert body["scopes"] == ["models:read"]
    with replicas.client(GW2, body["apiKey"]) as client:
        assert client.get("/v1/custom-models").status_code == 200

    listed = run_cli(replicas, "list")
    assert listed.returncode == 0 and body["id"] in listed.stdout and "made-on-cli" in listed.stdout
    assert body["apiKey"] not in listed.stdout

    rotated = run_cli(replicas, "rotate", body["id"])
    assert rotated.returncode == 0, rotated.stderr
    new_key = next(w for w in rotated.stdout.split() if w.startswith("ffk_"))
    replicas.issued_secrets.append(new_key)
    with replicas.client(GW1, body["apiKey"]) as old, replicas.client(GW1, new_key) as new:
        assert_problem(old.get("/v1/custom-models"), 401)
        assert new.get("/v1/custom-models").status_code == 200

    revoked = run_cli(replicas, "revoke", body["id"])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    with replicas.client(GW2, new_key) as client:
        assert_problem(client.get("/v1/custom-models"), 401)
    assert run_cli(replicas, "revoke", "cli_nobody").returncode == 1


def test_the_command_line_refuses_a_key_pepper_the_gateways_do_not_use(replicas: Stack) -> None:
    before = run_cli(replicas, "list", "--json").stdout
    refused = run_cli(replicas, "create", "--name", "wrong-pepper", FFGATE_KEY_PEPPER="not-the-gateways")
    assert refused.returncode == 1
    assert "FFGATE_KEY_PEPPER" in refused.stderr and "ffk_" not in refused.stdout + refused.stderr
    assert run_cli(replicas, "list", "--json").stdout == before


def test_unknown_keys_and_missing_headers_are_401_on_every_v1_route(replicas: Stack) -> None:
    url = replicas.gateways[GW2]
    for method, path in [
        ("GET", "/v1/custom-models"),
        ("GET", "/v1/generations"),
        ("POST", "/v1/generations"),
        ("GET", "/v1/admin/clients"),
        ("POST", "/v1/admin/clients/cli_x/rotate"),
    ]:
        assert_problem(httpx.request(method, f"{url}{path}"), 401)
        wrong = {"Authorization": "Bearer ffk_not_a_key_anyone_was_given"}
        assert_problem(httpx.request(method, f"{url}{path}", headers=wrong), 401)


def test_a_submit_is_authenticated_before_its_body_is_judged(replicas: Stack) -> None:
    """Submits authenticate inside the write (one round trip); refusals still come in the usual order."""
    url = replicas.gateways[GW1]
    with replicas.client(GW1) as admin:  # the gateway now holds the catalogue: the one-round-trip path
        assert admin.post("/v1/generations", json=GENERATE).status_code == 202
    unknown_model = {**GENERATE, "customModelId": "urn:aaid:sc:VA6C2:00000000-0000-0000-0000-000000000000"}
    nobody = {"Authorization": "Bearer ffk_not_a_key_anyone_was_given"}
    for body in ({"prompt": ""}, unknown_model, GENERATE):
        assert_problem(httpx.post(f"{url}/v1/generations", json=body, headers=nobody), 401)

    _, reader = replicas.create_client(GW1, scopes=["models:read"])
    with replicas.client(GW1, reader) as client:
        for body in ({"prompt": ""}, unknown_model, GENERATE):
            assert_problem(client.post("/v1/generations", json=body), 403)

    _, key = replicas.create_client(GW1, rateLimit={"requestsPerMinute": 3})
    with replicas.client(GW2, key) as client:
        invalid = client.post("/v1/generations", json={"prompt": ""})
        assert_problem(invalid, 422)
        assert invalid.headers["ratelimit-remaining"] == "2"  # counted like any request
        assert_problem(client.post("/v1/generations", json=unknown_model), 422)
        created = client.post("/v1/generations", json=GENERATE)
        assert created.status_code == 202 and created.headers["ratelimit-remaining"] == "0"
        assert_problem(client.post("/v1/generations", json={"prompt": ""}), 429)


def test_keys_are_never_seen_again_after_they_were_issued(replicas: Stack) -> None:
    """Runs last in this module: every key and webhook secret the tests above were given."""
    secrets = replicas.issued_secrets
    assert len(secrets) >= 10
    with replicas.client(GW1) as admin:
        seen = [admin.get("/v1/admin/clients").text]
        seen += [admin.get(f"/v1/admin/clients/{c['id']}").text for c in json.loads(seen[0])["items"]]
    logs = replicas.all_logs()
    for secret in [*secrets, ADMIN_KEY]:
        assert secret not in logs
        assert all(secret not in text for text in seen)
    # Redis holds keyed hashes of the API keys, never the keys themselves.
    stored = _everything_in(replicas)
    for key in (s for s in secrets if s.startswith("ffk_")):
        assert key not in stored


def _everything_in(stack: Stack) -> str:
    parts = []
    for name in stack.redis.scan_iter(count=1000):
        parts.append(name.decode(errors="replace"))
        kind = stack.redis.type(name)
        if kind == b"string":
            parts.append(str(stack.redis.get(name)))
        elif kind == b"hash":
            parts.append(str(stack.redis.hgetall(name)))
        elif kind == b"zset":
            parts.append(str(stack.redis.zrange(name, 0, -1)))
    return "\n".join(parts)
