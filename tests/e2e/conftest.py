from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Emulator + gateway + one worker, shared by a module's tests (each test makes its own jobs)."""
    with running_stack(tmp_path_factory.mktemp("stack")) as stack:
        yield stack


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Emulator + two gateways ("gateway", "gateway-2") sharing one Redis + one worker, for a module."""
    with running_stack(tmp_path_factory.mktemp("replicas"), gateways=2) as stack:
        yield stack


@pytest.fixture(autouse=True)
def _clean_emulator(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    for name in ("stack", "replicas"):
        if name in request.fixturenames:
            stack: Stack = request.getfixturevalue(name)
            with stack.emulator() as emu:
                emu.delete("/_emulator/faults")
                emu.delete("/_emulator/outcomes")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
