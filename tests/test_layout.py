"""The layout's import rules, checked on the source so they stay true:

- `ffgate/` (the command line aside) and `worker/` never import `service`;
- `ffgate/` never imports `worker`; nothing under `ffgate/` or `worker/` imports FastAPI or Starlette;
- importing the worker process loads neither FastAPI nor Starlette (checked in a fresh interpreter).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTTP_FRAMEWORKS = {"fastapi", "starlette"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def modules(package: str, *, skip: str | None = None) -> list[Path]:
    found = sorted((ROOT / package).rglob("*.py"))
    return [p for p in found if skip is None or skip not in p.relative_to(ROOT).parts]


@pytest.mark.parametrize("path", modules("ffgate", skip="cli"), ids=str)
def test_the_core_imports_neither_process_nor_an_http_framework(path: Path) -> None:
    assert not imported_roots(path) & ({"service", "worker"} | HTTP_FRAMEWORKS)


@pytest.mark.parametrize("path", modules("worker"), ids=str)
def test_the_worker_imports_no_http_edge(path: Path) -> None:
    assert not imported_roots(path) & ({"service"} | HTTP_FRAMEWORKS)


@pytest.mark.parametrize("path", modules("service"), ids=str)
def test_the_gateway_never_imports_the_worker(path: Path) -> None:
    assert "worker" not in imported_roots(path)


def test_the_rules_see_real_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import fastapi.routing\nfrom service.app import create_app\nfrom . import x\n")
    assert imported_roots(sample) == {"fastapi", "service"}


def test_the_worker_process_loads_no_http_framework() -> None:
    probe = (
        "import sys, worker.main, worker.tasks\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'starlette', 'service'}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
