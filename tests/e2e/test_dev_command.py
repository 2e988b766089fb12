"""`ffgate dev` on a machine with no Redis where it looks: embedded Redis, emulator, worker, gateway."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import free_port, wait_terminal


def test_dev_runs_the_whole_stack_and_stops_cleanly(tmp_path: Path) -> None:
    redis_port, port, emulator_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FFGATE_")}
    env["FFGATE_REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"  # nothing answers there: embedded Redis
    env["FFGATE_STORAGE_URL"] = f"file://{tmp_path}/outputs"
    log = tmp_path / "dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ffgate", "dev", "--port", str(port),
             "--emulator-port", str(emulator_port), "--redis-port", str(redis_port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=0,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C stops everything" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        banner = log.read_text()
        assert "embedded" in banner
        key = re.search(r"KEY=(ffk_[\w-]+)", banner)
        assert key, banner
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key.group(1)}"},
            timeout=60,
        ) as client:
            models = client.get("/v1/custom-models").json()["items"]
            assert ROUTER_MODEL_ID in {m["assetId"] for m in models}
            created = client.post(
                "/v1/generations",
                json={"prompt": "a white router on a volcano in Africa", "customModelId": ROUTER_MODEL_ID,
                      "numVariations": 2},
            ).json()  # fmt: skip
            done = wait_terminal(client, created["id"])
            assert done["status"] == "succeeded"
            # The gateway's own URLs: the stored file, or Firefly's URL until the copy is done.
            fetched = [client.get(o["image"]["url"], follow_redirects=True) for o in done["outputs"]]
            assert all(f.status_code == 200 and f.content for f in fetched)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    assert code == 0, log.read_text()[-3000:]
    for probe in (port, emulator_port, redis_port):  # every child is gone with it
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", probe), timeout=1).close()
