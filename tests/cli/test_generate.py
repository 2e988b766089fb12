"""`ffgate generate`, `ffgate models` and `ffgate generations ...` as processes against a real stack: with
`--json` and in a pseudo-terminal (live progress, Ctrl-C), and the exit codes scripts rely on."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import Stack, free_port, running_stack

pytestmark = pytest.mark.e2e
ROUTER = "Citi Signal Router Model"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("cli")) as stack:
        yield stack


@pytest.fixture(scope="module")
def key(stack: Stack) -> str:
    return stack.create_client(name="cli", rateLimit={"requestsPerMinute": 1000})[1]


@pytest.fixture(autouse=True)
def _clean_emulator(stack: Stack) -> Iterator[None]:
    yield
    with stack.emulator() as emu:
        emu.delete("/_emulator/outcomes")


@dataclass
class Done:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def environment(stack: Stack, key: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FFGATE_")}
    return env | {"FFGATE_URL": stack.gateways["gateway"], "FFGATE_KEY": key, "COLUMNS": "120"} | extra


def ffgate(stack: Stack, key: str, *args: str, timeout_s: float = 90, **env: str) -> Done:
    done = subprocess.run(
        [sys.executable, "-m", "ffgate", *args],
        env=environment(stack, key, **env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
        check=False,
        cwd=stack.workdir,  # where a generation without --out saves its files: never the checkout
    )
    assert "Traceback" not in done.stderr + done.stdout
    return Done(done.returncode, done.stdout, done.stderr)


def tag() -> str:
    return uuid.uuid4().hex[:12]


def script(stack: Stack, marker: str, outcome: str = "succeeded", latency_s: float | None = None) -> None:
    rule: dict[str, Any] = {"promptContains": marker, "outcome": outcome}
    if latency_s is not None:
        rule["latencyS"] = latency_s
    with stack.emulator() as emu:
        assert emu.post("/_emulator/outcomes", json=rule).status_code == 200


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("ffgate: ")
    return lines[0]


def valid_jpeg(path: Path) -> None:
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        image.load()
        assert image.format == "JPEG" and image.width > 0


# --- generating -----------------------------------------------------------------------------------------


def test_generate_json_saves_two_valid_images(stack: Stack, key: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    prompt = "a white router on a volcano in Africa"
    done = ffgate(stack, key, "generate", prompt, "--model", ROUTER, "-n", "2", "--out", str(out), "--json")
    assert done.code == 0, done.stderr
    assert done.stderr == ""  # --json: nothing but errors on stderr
    result = done.json()
    assert result["status"] == "succeeded" and result["request"]["customModelId"] == ROUTER_MODEL_ID
    assert len(result["outputs"]) == 2 and len(result["files"]) == 2
    assert sorted(str(p) for p in out.iterdir()) == sorted(result["files"])
    for file in result["files"]:
        valid_jpeg(Path(file))


def test_generate_plain_prints_the_paths_and_follows_on_stderr(
    stack: Stack, key: str, tmp_path: Path
) -> None:
    seeds = ["--seed", "5", "--seed", "6"]
    names = ["--out", str(tmp_path), "--name", "r-{seed}.{ext}"]
    done = ffgate(stack, key, "generate", "a router on a desk", "-m", ROUTER_MODEL_ID, *seeds, *names)
    assert done.code == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "r-5.jpg"), str(tmp_path / "r-6.jpg")]
    assert "succeeded" in done.stderr and "saved" in done.stderr
    valid_jpeg(tmp_path / "r-5.jpg")


def test_no_wait_prints_the_id_and_exits_0(stack: Stack, key: str) -> None:
    done = ffgate(stack, key, "generate", "a router", "-m", ROUTER, "--no-wait")
    assert done.code == 0
    gen_id = done.stdout.strip()
    assert gen_id.startswith("gen_")
    shown = ffgate(stack, key, "generations", "show", gen_id, "--json")
    assert shown.code == 0 and shown.json()["id"] == gen_id


# --- exit codes -----------------------------------------------------------------------------------------


def test_a_refused_prompt_exits_5_with_one_line(stack: Stack, key: str) -> None:
    done = ffgate(stack, key, "generate", "r" * 1100, "--model", ROUTER)
    assert done.code == 5
    assert "refused (422)" in one_line(done.stderr) and "1024 characters" in done.stderr
    as_json = ffgate(stack, key, "generate", "r" * 1100, "--model", ROUTER, "--json")
    assert as_json.code == 5
    assert as_json.json()["error"]["status"] == 422 and as_json.json()["exitCode"] == 5


def test_an_unknown_model_exits_6(stack: Stack, key: str) -> None:
    done = ffgate(stack, key, "generate", "a router", "--model", "No Such Model")
    assert done.code == 6 and "No Such Model" in one_line(done.stderr)
    by_id = ffgate(
        stack, key, "generate", "a router", "--model", "urn:aaid:sc:VA6C2:00000000-0000-0000-0000-000000"
    )
    assert by_id.code == 6, by_id.stderr


def test_a_wrong_key_exits_7_and_no_key_2(stack: Stack, key: str) -> None:
    done = ffgate(stack, "ffk_wrong", "generate", "a router", "--model", ROUTER)
    assert done.code == 7 and "401" in one_line(done.stderr)
    missing = ffgate(stack, "", "models")
    assert missing.code == 2 and "FFGATE_KEY" in one_line(missing.stderr)
    flag = ffgate(stack, "ffk_wrong", "models", "--key", key, "--json")  # --key wins over FFGATE_KEY
    assert flag.code == 0


def test_a_gateway_that_is_down_exits_9(stack: Stack, key: str) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    done = ffgate(stack, key, "generate", "a router", "--model", ROUTER, "--url", down, "--json")
    assert done.code == 9 and "ConnectError" in one_line(done.stderr)


def test_a_failed_generation_exits_3(stack: Stack, key: str, tmp_path: Path) -> None:
    marker = tag()
    script(stack, marker, outcome="failed")
    done = ffgate(
        stack, key, "generate", f"a router {marker}", "--model", ROUTER, "--out", str(tmp_path), "--json"
    )
    assert done.code == 3
    assert done.json()["status"] == "failed" and done.json()["files"] == []
    assert "failed" in one_line(done.stderr) and list(tmp_path.iterdir()) == []


def test_a_generation_canceled_meanwhile_exits_4(stack: Stack, key: str) -> None:
    marker = tag()
    script(stack, marker, latency_s=30)
    env = environment(stack, key)
    command = [sys.executable, "-m", "ffgate", "generate", f"a router {marker}", "-m", ROUTER, "--json"]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=stack.workdir
    ) as proc:
        gen_id = wait_for_generation(stack, key, marker)
        with stack.client(key=key) as client:
            assert client.post(f"/v1/generations/{gen_id}/cancel").status_code == 202
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 4, stderr
    assert json.loads(stdout)["status"] == "canceled" and "canceled" in one_line(stderr)


def test_timeout_exits_12_and_an_unwritable_out_11(stack: Stack, key: str, tmp_path: Path) -> None:
    marker = tag()
    script(stack, marker, latency_s=30)
    done = ffgate(stack, key, "generate", f"a router {marker}", "-m", ROUTER, "--timeout", "2", "--json")
    assert done.code == 12 and "still" in one_line(done.stderr)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = ffgate(stack, key, "generate", "a router", "-m", ROUTER, "--out", str(blocker / "sub"), "--json")
    assert done.code == 11 and "cannot write" in one_line(done.stderr)
    bad_size = ffgate(stack, key, "generate", "a router", "-m", ROUTER, "--size", "huge")
    assert bad_size.code == 2 and "WIDTHxHEIGHT" in one_line(bad_size.stderr)


# --- in a terminal --------------------------------------------------------------------------------------


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Terminal:
    """`ffgate ...` with a pseudo-terminal as its stdin, stdout and stderr."""

    def __init__(self, stack: Stack, key: str, *args: str) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ffgate", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment(stack, key),
            cwd=stack.workdir,  # files saved without --out go there, never into the checkout
            # Ctrl-C as at a terminal, even when the test run itself ignores SIGINT (a background job)
            preexec_fn=_default_sigint,
        )
        os.close(slave)
        self.output = b""

    def read_until(self, text: str, timeout_s: float = 30) -> str:
        deadline = time.monotonic() + timeout_s
        while text.encode() not in self.output:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} never showed; the screen has:\n{self.screen()[-2000:]}")
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:  # the process ended and closed the terminal
                    if text.encode() not in self.output:
                        raise
        return self.screen()

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self, timeout_s: float = 60) -> int:
        code = self.proc.wait(timeout=timeout_s)
        with_rest = select.select([self.master], [], [], 0.2)[0]
        if with_rest:
            with contextlib.suppress(OSError):
                self.output += os.read(self.master, 65536)
        os.close(self.master)
        return code

    def screen(self) -> str:
        return self.output.decode(errors="replace")


def test_in_a_terminal_progress_is_live_and_the_images_are_saved(
    stack: Stack, key: str, tmp_path: Path
) -> None:
    marker = tag()
    script(stack, marker, latency_s=2)
    args = ["generate", f"a router {marker}", "-m", ROUTER, "-n", "2", "--out", str(tmp_path)]
    term = Terminal(stack, key, *args)
    term.read_until("running")
    assert term.finish() == 0
    screen = term.screen()
    assert "succeeded" in screen and "\x1b[" in screen  # drawn with terminal control sequences
    files = sorted(tmp_path.iterdir())
    assert len(files) == 2 and all(f.name in screen for f in files)
    for file in files:
        valid_jpeg(file)


def test_ctrl_c_asks_and_cancels_the_generation(stack: Stack, key: str) -> None:
    marker = tag()
    script(stack, marker, latency_s=30)
    term = Terminal(stack, key, "generate", f"a router {marker}", "-m", ROUTER)
    term.read_until("submitted")
    term.proc.send_signal(signal.SIGINT)
    term.read_until("Cancel generation")
    term.type("y\n")
    assert term.finish() == 4
    gen_id = wait_for_generation(stack, key, marker)
    with stack.client(key=key) as client:
        assert client.get(f"/v1/generations/{gen_id}").json()["status"] == "canceled"


def test_ctrl_c_answered_no_leaves_the_generation_running(stack: Stack, key: str) -> None:
    marker = tag()
    script(stack, marker, latency_s=30)
    term = Terminal(stack, key, "generate", f"a router {marker}", "-m", ROUTER)
    term.read_until("submitted")
    term.proc.send_signal(signal.SIGINT)
    term.read_until("Cancel generation")
    term.type("n\n")
    assert term.finish() == 130
    assert "generations cancel" in term.screen()
    gen_id = wait_for_generation(stack, key, marker)
    with stack.client(key=key) as client:
        assert client.get(f"/v1/generations/{gen_id}").json()["status"] in ("submitted", "running")
        client.post(f"/v1/generations/{gen_id}/cancel")


def wait_for_generation(stack: Stack, key: str, marker: str, timeout_s: float = 30) -> str:
    """The id of the caller's generation whose prompt holds `marker`, once the gateway has it."""
    deadline = time.monotonic() + timeout_s
    with stack.client(key=key) as client:
        while time.monotonic() < deadline:
            for item in client.get("/v1/generations", params={"limit": 20}).json()["items"]:
                if marker in item["request"]["prompt"]:
                    gen_id: str = item["id"]
                    return gen_id
            time.sleep(0.1)
    raise TimeoutError(f"no generation with {marker}")


# --- models and generations -----------------------------------------------------------------------------


def test_models_and_generations_commands(stack: Stack, key: str) -> None:
    table = ffgate(stack, key, "models")
    assert table.code == 0 and ROUTER in table.stdout and ROUTER_MODEL_ID in table.stdout
    subject = ffgate(stack, key, "models", "--training-mode", "subject", "--json").json()["items"]
    assert subject and all(m["trainingMode"] == "subject" for m in subject)

    with stack.client(key=key) as client:
        created = client.post(
            "/v1/generations", json={"prompt": f"a router {tag()}", "customModelId": ROUTER_MODEL_ID}
        )
        gen_id = created.json()["id"]
        deadline = time.monotonic() + 30
        while client.get(f"/v1/generations/{gen_id}").json()["status"] != "succeeded":
            assert time.monotonic() < deadline
            time.sleep(0.2)
    listed = ffgate(stack, key, "generations", "list", "--limit", "3", "--json").json()["items"]
    assert gen_id in [g["id"] for g in listed] and len(listed) <= 3
    plain = ffgate(stack, key, "generations", "list", "--status", "succeeded")
    assert plain.code == 0 and gen_id in plain.stdout
    shown = ffgate(stack, key, "generations", "show", gen_id)
    assert shown.code == 0 and "succeeded" in shown.stdout and "output 0" in shown.stdout
    too_late = ffgate(stack, key, "generations", "cancel", gen_id)
    assert too_late.code == 5 and "409" in one_line(too_late.stderr)
    missing = ffgate(stack, key, "generations", "show", "gen_nope")
    assert missing.code == 5 and "404" in one_line(missing.stderr)
    assert httpx.get(f"{stack.gateways['gateway']}/healthz").status_code == 200
