"""newman, Postman's command-line runner, for the collections in this directory.

It is installed on first use with `npm ci` from `package.json` + `package-lock.json` here (one pinned
version, the same tree everywhere) into `.cache/newman/` at the top of the checkout, and installed again when
those files change. Nothing global is needed besides node and npm. `python -m tests.postman.newman` (what
`make newman` runs) installs it and prints the executable's path.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
INSTALL_DIR = ROOT / ".cache" / "newman"
MANIFESTS = ("package.json", "package-lock.json")
COLLECTION = HERE / "custom-models.postman_collection.json"
ENVIRONMENT = HERE / "firefly.postman_environment.json"


def _manifest_digest() -> str:
    digest = hashlib.sha256()
    for name in MANIFESTS:
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()


def install() -> Path:
    """The newman executable, installed first if it is missing or was installed from other manifests."""
    executable = INSTALL_DIR / "node_modules" / ".bin" / "newman"
    stamp = INSTALL_DIR / ".installed-from"
    wanted = _manifest_digest()
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    with (INSTALL_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs of one checkout install it once
        if executable.exists() and stamp.exists() and stamp.read_text() == wanted:
            return executable
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed to install newman (node 16 or later with its npm)")
        for name in MANIFESTS:
            shutil.copyfile(HERE / name, INSTALL_DIR / name)
        done = subprocess.run(
            [npm, "ci", "--prefix", str(INSTALL_DIR), "--no-audit", "--no-fund", "--loglevel=error"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0 or not executable.exists():
            raise RuntimeError(f"npm ci for newman failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        stamp.write_text(wanted)
    return executable


@dataclass(frozen=True)
class NewmanRun:
    returncode: int
    output: str  # newman's CLI report
    report: dict[str, Any]  # its JSON report: `run.stats`, `run.failures`, `run.executions`, ...

    @property
    def failures(self) -> list[str]:
        """One line per failed test or request: `request name / test name: message`."""
        return [
            f"{failure['source'].get('name', '?')} / {failure['error'].get('test', '')}: "
            f"{failure['error'].get('message', '')}"
            for failure in self.report["run"]["failures"]
        ]

    def executed(self) -> list[str]:
        """The names of the requests newman sent, in order (a polled request once per poll)."""
        return [execution["item"]["name"] for execution in self.report["run"]["executions"]]


def run(workdir: Path, env_vars: dict[str, str], *, timeout_s: float = 300) -> NewmanRun:
    """Run the collection with the environment file, `env_vars` overriding its values."""
    report = workdir / "newman-report.json"
    command = [
        str(install()),
        "run",
        str(COLLECTION),
        "--environment",
        str(ENVIRONMENT),
        *(arg for key, value in env_vars.items() for arg in ("--env-var", f"{key}={value}")),
        "--reporters",
        "cli,json",
        "--reporter-json-export",
        str(report),
        "--timeout-request",
        "30000",
        "--color",
        "off",
        "--disable-unicode",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if not report.exists():
        raise RuntimeError(f"newman wrote no report ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return NewmanRun(done.returncode, done.stdout + done.stderr, json.loads(report.read_text()))


if __name__ == "__main__":
    print(install())
