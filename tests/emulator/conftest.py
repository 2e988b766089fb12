"""Runs the emulator for real (uvicorn on a loopback socket, in a background thread) and talks HTTP to it.

One session-wide server whose public URL is `localhost` while tests connect to `127.0.0.1`, so every test
that follows a returned `statusUrl` also proves that URL is honoured. Each test starts from a reset.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from emulator.app import create_app
from emulator.settings import EmulatorSettings

GOOD_BODY: dict[str, Any] = {"prompt": "a lighthouse at dawn"}


@contextlib.contextmanager
def running_emulator(**overrides: Any) -> Iterator[tuple[str, EmulatorSettings]]:
    """Serve a fresh emulator; yields its base URL (127.0.0.1) and its settings."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    values: dict[str, Any] = {
        "rpm": 0,
        "rpd": 0,
        "job_latency_s": 0.3,
        "image_max_side": 256,
        "public_url": f"http://localhost:{port}",
    }
    values.update({k: v(port) if callable(v) else v for k, v in overrides.items()})
    settings = EmulatorSettings(**values)
    config = uvicorn.Config(
        create_app(settings), loop="uvloop", http="httptools", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("emulator did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", settings
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@dataclass
class Emu:
    url: str
    settings: EmulatorSettings
    http: httpx.Client
    _token: str | None = None

    @property
    def public_url(self) -> str:
        assert self.settings.public_url is not None
        return self.settings.public_url

    def token(self) -> str:
        response = self.http.post("/ims/token/v3", data=self.token_form())
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def token_form(self) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret.get_secret_value(),
            "scope": "openid,AdobeID,firefly_api,ff_apis",
        }

    def headers(self, **extra: str) -> dict[str, str]:
        """Valid Firefly headers (one token per test), plus `extra` with `_` spelled `-`."""
        self._token = self._token or self.token()
        return {
            "authorization": f"Bearer {self._token}",
            "x-api-key": self.settings.client_id,
            **{k.replace("_", "-"): v for k, v in extra.items()},
        }

    def config(self, **values: Any) -> dict[str, Any]:
        response = self.http.patch("/_emulator/config", json=values)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def fault(self, **spec: Any) -> None:
        response = self.http.post("/_emulator/faults", json=spec)
        assert response.status_code == 200, response.text

    def outcome(self, **rule: Any) -> None:
        response = self.http.post("/_emulator/outcomes", json=rule)
        assert response.status_code == 200, response.text

    def generate(self, body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
        return self.http.post(
            "/v3/images/generate-async",
            json=GOOD_BODY if body is None else body,
            headers=self.headers(**headers),
        )

    def submit(self, body: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        response = self.generate(body, **headers)
        assert response.status_code == 202, response.text
        return dict(response.json())

    def status(self, job: dict[str, Any]) -> dict[str, Any]:
        response = self.http.get(job["statusUrl"], headers=self.headers())
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_for(self, job: dict[str, Any], *statuses: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            body = self.status(job)
            if body["status"] in statuses:
                return body
            assert time.monotonic() < deadline, f"still {body['status']}"
            time.sleep(0.05)


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[tuple[str, EmulatorSettings]]:
    with running_emulator() as server:
        yield server


@pytest.fixture
def emu(emulator_server: tuple[str, EmulatorSettings]) -> Iterator[Emu]:
    url, settings = emulator_server
    with httpx.Client(base_url=url, timeout=10) as http:
        http.post("/_emulator/reset").raise_for_status()
        yield Emu(url, settings, http)
        http.post("/_emulator/reset").raise_for_status()
