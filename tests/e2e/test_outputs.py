"""Stored outputs end to end: Firefly's image URLs expire after a few seconds, and ffgate still serves every
output byte for byte through the key, a signed link and the webhook's URLs; reuse, links, DELETE."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from emulator.seed import ROUTER_MODEL_ID
from ffgate.generations.outputs import epoch
from tests.receiver import Receiver
from tests.stack import Stack, running_stack, wait_terminal

URL_TTL_S = 4
ENV = {
    "FFGATE_EMULATOR_URL_TTL_S": str(URL_TTL_S),
    "FFGATE_WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8",
    "FFGATE_COPY_LEASE_S": "4",
    "FFGATE_EMULATOR_IMAGE_MAX_SIDE": "512",  # drawn at 512x512 (and so reported): quick to draw and copy
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("outputs"), **ENV) as stack:
        yield stack


def body(prompt: str | None = None, **extra: Any) -> dict[str, Any]:
    prompt = prompt or f"a white router on a volcano {uuid.uuid4().hex[:8]}"
    return {
        "prompt": prompt,
        "customModelId": ROUTER_MODEL_ID,
        "size": {"width": 2048, "height": 2048},
        **extra,
    }


def generate(client: httpx.Client, request: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = client.post("/v1/generations", json=request, headers=headers)
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


def wait_stored(client: httpx.Client, gen_id: str, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        done = wait_terminal(client, gen_id)
        assert done["status"] == "succeeded", done
        if all(o["image"]["stored"] for o in done["outputs"]):
            return done
        assert time.monotonic() < deadline, done
        time.sleep(0.1)


def wait_expired(generation: dict[str, Any]) -> None:
    latest = max(epoch(o["image"]["upstreamExpiresAt"]) for o in generation["outputs"])
    time.sleep(max(0.0, latest - time.time() + 0.5))


def upstream_bytes(generation: dict[str, Any]) -> list[bytes]:
    """What Firefly served, fetched before its URLs expire."""
    return [httpx.get(o["image"]["upstreamUrl"], timeout=30).content for o in generation["outputs"]]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_output_is_served_after_firefly_urls_expire(stack: Stack) -> None:
    with Receiver() as receiver, stack.client() as client:
        created = generate(client, body(numVariations=2, webhook={"url": receiver.url}))
        done = wait_terminal(client, created["id"])
        assert done["status"] == "succeeded"
        firefly = upstream_bytes(done)
        stored = wait_stored(client, created["id"])
        [hook] = receiver.wait_for(1)
        wait_expired(stored)
        assert httpx.get(stored["outputs"][0]["image"]["upstreamUrl"]).status_code == 403  # Firefly's: dead

        for index, (output, original) in enumerate(zip(stored["outputs"], firefly, strict=True)):
            image = output["image"]
            assert image["url"] == f"/v1/generations/{created['id']}/outputs/{index}"
            assert (image["sha256"], image["size"], image["contentType"]) == (
                sha(original),
                len(original),
                "image/jpeg",
            )
            assert (image["width"], image["height"]) == (512, 512)  # read from the stored bytes
            # through the key
            response = client.get(image["url"])
            assert response.status_code == 200
            assert sha(response.content) == sha(original)
            assert response.headers["etag"] == f'"{image["sha256"]}"'
            assert response.headers["cache-control"].startswith("private, immutable")
            assert response.headers["content-length"] == str(len(original))
            assert response.headers["content-type"] == "image/jpeg"
            # through a signed link, without any key
            link = client.post(f"{image['url']}/links", json={"expiresIn": 60})
            assert link.status_code == 201, link.text
            assert link.json()["expiresAt"].endswith("Z")
            opened = httpx.get(stack.gateways["gateway"] + link.json()["url"])
            assert opened.status_code == 200 and sha(opened.content) == sha(original)

        # through the webhook's URLs (stable from the start, so they outlive Firefly's)
        payload = json.loads(hook.body)
        assert payload["type"] == "generation.succeeded"
        for output, original in zip(payload["data"]["outputs"], firefly, strict=True):
            fetched = client.get(output["image"]["url"])
            assert fetched.status_code == 200 and sha(fetched.content) == sha(original)


def test_ranges_head_etag_and_unknown_index(stack: Stack) -> None:
    with stack.client() as client:
        done = wait_stored(client, generate(client, body())["id"])
        url = done["outputs"][0]["image"]["url"]
        whole = client.get(url).content
        part = client.get(url, headers={"Range": "bytes=10-109"})
        assert part.status_code == 206
        assert part.content == whole[10:110]
        assert part.headers["content-range"] == f"bytes 10-109/{len(whole)}"
        head = client.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(whole))
        again = client.get(url, headers={"If-None-Match": head.headers["etag"]})
        assert again.status_code == 304
        missing = client.get(url.rsplit("/", 1)[0] + "/5")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


def test_before_the_copy_the_url_redirects_to_firefly(stack: Stack) -> None:
    with stack.emulator() as emu:
        emu.post("/_emulator/faults", json={"endpoint": "image", "status": None, "delayS": 2, "count": 1})
    with stack.client() as client:
        done = wait_terminal(client, generate(client, body())["id"])
        output = done["outputs"][0]["image"]
        assert output["stored"] is False
        response = client.get(output["url"])
        assert response.status_code == 302
        assert response.headers["location"] == output["upstreamUrl"]
        wait_stored(client, done["id"])


def test_signed_links_are_refused_when_tampered_expired_or_revoked(stack: Stack) -> None:
    client_id, key = stack.create_client(scopes=["generate"])
    gateway = stack.gateways["gateway"]
    with stack.client(key=key) as client:
        done = wait_stored(client, generate(client, body())["id"])
        url = done["outputs"][0]["image"]["url"]
        short = client.post(f"{url}/links", json={"expiresIn": 1}).json()["url"]
        long = client.post(f"{url}/links", json={"expiresIn": 600}).json()["url"]
        assert httpx.get(gateway + long).status_code == 200
        assert client.post(f"{url}/links", json={"expiresIn": 10**9}).status_code == 422

        path, _, query = long.partition("?")
        params = {k: v[0] for k, v in parse_qs(query).items()}
        tampered = httpx.get(gateway + path.replace("/outputs/0", "/outputs/1") + "?" + query)
        later = httpx.get(f"{gateway}{path}?{urlencode(params | {'expires': int(params['expires']) + 3600})}")
        for refused in (tampered, later):
            assert refused.status_code == 403
            assert refused.json()["type"] == "urn:ffgate:problem:link-refused"
            assert "signature" in refused.json()["detail"]

        time.sleep(1.5)
        expired = httpx.get(gateway + short)
        assert expired.status_code == 403 and "expired" in expired.json()["detail"]

    with stack.client() as admin:
        assert admin.delete(f"/v1/admin/clients/{client_id}").status_code == 200
    revoked = httpx.get(gateway + long)
    assert revoked.status_code == 403 and "revoked" in revoked.json()["detail"]
    assert revoked.headers["content-type"] == "application/problem+json"
    assert urlsplit(long).path == urlsplit(url).path


def test_a_repeated_seeded_request_is_answered_from_the_store(stack: Stack) -> None:
    _, key = stack.create_client(scopes=["generate"], dailyImageQuota=4)
    request = body(seeds=[11, 12])
    with stack.client(key=key) as client:
        first = wait_stored(client, generate(client, request)["id"])
        calls = stack.emu_stats()["requests"]["generate"]

        reused = generate(client, request | {"metadata": {"again": True}})
        assert reused["status"] == "succeeded"
        assert reused["reused"] == {"from": first["id"]}
        assert [o["image"]["sha256"] for o in reused["outputs"]] == [
            o["image"]["sha256"] for o in first["outputs"]
        ]
        assert stack.emu_stats()["requests"]["generate"] == calls  # no Firefly call
        fetched = client.get(reused["outputs"][1]["image"]["url"])
        assert sha(fetched.content) == first["outputs"][1]["image"]["sha256"]
        # no quota spent: 2 of 4 images were used by the first, and 2 more still fit
        fresh = generate(client, request, **{"Cache-Control": "no-cache"})
        assert fresh["status"] == "queued" and fresh.get("reused") is None
        assert wait_terminal(client, fresh["id"])["status"] == "succeeded"
        assert stack.emu_stats()["requests"]["generate"] == calls + 1


def test_a_request_differing_in_any_firefly_field_is_generated_afresh(stack: Stack) -> None:
    request = body(seeds=[41])
    with stack.client() as client:
        wait_stored(client, generate(client, request)["id"])
        assert generate(client, request | {"webhook": None, "metadata": {"x": 1}})["reused"] is not None
        for changed in ({"contentClass": "art"}, {"size": {"width": 2304, "height": 1792}}, {"seeds": [42]}):
            assert generate(client, request | changed)["status"] == "queued", changed


def test_another_clients_stored_generation_is_not_reused(stack: Stack) -> None:
    _, key_a = stack.create_client(scopes=["generate"])
    _, key_b = stack.create_client(scopes=["generate"])
    request = body(seeds=[21])
    with stack.client(key=key_a) as a, stack.client(key=key_b) as b:
        done = wait_stored(a, generate(a, request)["id"])
        assert generate(b, request)["status"] == "queued"
        assert b.get(done["outputs"][0]["image"]["url"]).status_code == 404  # not b's


def test_delete_removes_the_record_and_its_files(stack: Stack) -> None:
    outputs = Path(stack.env["FFGATE_STORAGE_URL"].removeprefix("file://"))
    with stack.client() as client:
        done = wait_stored(client, generate(client, body(numVariations=2))["id"])
        files = [outputs / o["image"]["sha256"][:2] / o["image"]["sha256"] for o in done["outputs"]]
        assert all(f.exists() for f in files)
        assert client.delete(f"/v1/generations/{done['id']}").status_code == 204
        assert not any(f.exists() for f in files)
        assert client.get(f"/v1/generations/{done['id']}").status_code == 404
        assert client.get(done["outputs"][0]["image"]["url"]).status_code == 404
        assert client.delete(f"/v1/generations/{done['id']}").status_code == 404


def test_objects_shared_by_reuse_live_until_the_last_generation_goes(stack: Stack) -> None:
    outputs = Path(stack.env["FFGATE_STORAGE_URL"].removeprefix("file://"))
    request = body(seeds=[31])
    with stack.client() as client:
        first = wait_stored(client, generate(client, request)["id"])
        second = generate(client, request)
        assert second["reused"] == {"from": first["id"]}
        digest = first["outputs"][0]["image"]["sha256"]
        assert client.delete(f"/v1/generations/{first['id']}").status_code == 204
        assert (outputs / digest[:2] / digest).exists()  # still the second's
        assert sha(client.get(second["outputs"][0]["image"]["url"]).content) == digest
        assert client.delete(f"/v1/generations/{second['id']}").status_code == 204
        assert not (outputs / digest[:2] / digest).exists()


def test_a_copy_that_cannot_be_made_before_expiry_leaves_a_reason(stack: Stack) -> None:
    with stack.emulator() as emu:
        emu.post("/_emulator/faults", json={"endpoint": "image", "status": 503, "durationS": URL_TTL_S + 3})
    with stack.client() as client:
        done = wait_terminal(client, generate(client, body())["id"])
        deadline = time.monotonic() + 20
        while not (image := client.get(f"/v1/generations/{done['id']}").json()["outputs"][0]["image"]).get(
            "storeError"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert image["stored"] is False and "expired" in image["storeError"]
        assert client.get(f"/v1/generations/{done['id']}").json()["status"] == "succeeded"
        gone = client.get(image["url"])
        assert gone.status_code == 410
        assert gone.headers["content-type"] == "application/problem+json"
    assert "retrying" in stack.log("worker-1")  # the failures were logged as they happened


def test_a_store_that_fails_redirects_to_firefly_then_answers_503(stack: Stack) -> None:
    outputs = Path(stack.env["FFGATE_STORAGE_URL"].removeprefix("file://"))
    with stack.client() as client:
        done = wait_stored(client, generate(client, body())["id"])
        url, digest = done["outputs"][0]["image"]["url"], done["outputs"][0]["image"]["sha256"]
        shard = outputs / digest[:2]
        aside = shard.with_name(shard.name + ".aside")
        shard.rename(aside)
        shard.write_bytes(b"")  # a file where the store's directory was: every read of it fails
        try:
            assert client.get(url).status_code == 302  # Firefly's URL still works
            wait_expired(done)
            down = client.get(url)
            assert down.status_code == 503
            assert int(down.headers["retry-after"]) >= 1
            assert down.json()["type"] == "urn:ffgate:problem:storage-unavailable"
        finally:
            shard.unlink()
            aside.rename(shard)
        assert client.get(url).status_code == 200


def test_a_refused_upload_is_retried_logged_and_then_stored(stack: Stack) -> None:
    outputs = Path(stack.env["FFGATE_STORAGE_URL"].removeprefix("file://"))
    aside = outputs.with_name("outputs.aside")
    with stack.emulator() as emu, stack.client() as client:
        emu.patch("/_emulator/config", json={"urlTtlS": 120})  # time enough for the retries
        outputs.rename(aside)
        outputs.write_bytes(b"")  # the store cannot write: a file where its directory should be
        try:
            done = wait_terminal(client, generate(client, body())["id"])
            deadline = time.monotonic() + 20
            while f"copying an output of {done['id']} failed" not in stack.log("worker-1"):
                assert time.monotonic() < deadline, stack.log("worker-1")[-2000:]
                time.sleep(0.2)
            assert not client.get(f"/v1/generations/{done['id']}").json()["outputs"][0]["image"]["stored"]
        finally:
            outputs.unlink()
            aside.rename(outputs)
            emu.patch("/_emulator/config", json={"urlTtlS": URL_TTL_S})
        stored = wait_stored(client, done["id"])
        assert client.get(stored["outputs"][0]["image"]["url"]).status_code == 200


def test_a_copy_cut_short_by_sigkill_is_finished_by_another_worker(workdir: Path) -> None:
    # Firefly's URLs live long enough here for the takeover: this test is about the lease, not expiry
    # (with 4 s URLs, a second worker slow to start on a loaded machine found them expired).
    with running_stack(workdir, **(ENV | {"FFGATE_EMULATOR_URL_TTL_S": "120"})) as stack:
        with stack.emulator() as emu:  # the first worker's downloads take a while
            emu.post("/_emulator/faults", json={"endpoint": "image", "status": None, "delayS": 2, "count": 2})
        with stack.client() as client:
            done = wait_terminal(client, generate(client, body(numVariations=2))["id"])
            time.sleep(0.5)  # the copy is under way: both downloads are held by the emulator
            stack.kill("worker-1")
            assert not any(
                o["image"]["stored"] for o in client.get(f"/v1/generations/{done['id']}").json()["outputs"]
            )
            stack.start_worker("worker-2")
            stored = wait_stored(client, done["id"])
            for output in stored["outputs"]:
                assert sha(client.get(output["image"]["url"]).content) == output["image"]["sha256"]
        assert "copied: 2 of 2 stored" in stack.log("worker-2")


@pytest.fixture(scope="module")
def s3_stack(tmp_path_factory: pytest.TempPathFactory, s3_server: Any) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("s3-home")
    env = (
        ENV
        | s3_server.env(home)
        | {
            "FFGATE_STORAGE_URL": f"s3://ffgate-e2e/{uuid.uuid4().hex[:8]}",
            "FFGATE_STORAGE_CREATE_BUCKET": "true",
        }
    )
    with running_stack(tmp_path_factory.mktemp("s3-outputs"), **env) as stack:
        yield stack


def test_with_an_s3_store_outputs_outlive_firefly_urls(s3_stack: Stack) -> None:
    with Receiver() as receiver, s3_stack.client() as client:
        created = generate(client, body(numVariations=2, webhook={"url": receiver.url}))
        firefly = upstream_bytes(wait_terminal(client, created["id"]))
        stored = wait_stored(client, created["id"])
        [hook] = receiver.wait_for(1)
        wait_expired(stored)
        hooked = json.loads(hook.body)["data"]["outputs"]
        gateway = s3_stack.gateways["gateway"]
        for output, webhook_output, original in zip(stored["outputs"], hooked, firefly, strict=True):
            url = output["image"]["url"]
            assert webhook_output["image"]["url"] == url
            redirect = client.get(url)
            assert redirect.status_code == 302
            assert "X-Amz-Signature" in redirect.headers["location"]  # the store's own short-lived URL
            assert sha(client.get(url, follow_redirects=True).content) == sha(original)
            link = client.post(f"{url}/links", json={}).json()["url"]
            assert sha(httpx.get(gateway + link, follow_redirects=True).content) == sha(original)
