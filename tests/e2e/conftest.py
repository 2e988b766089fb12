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


@pytest.fixture(autouse=True)
def _clean_emulator(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "stack" in request.fixturenames:
        stack: Stack = request.getfixturevalue("stack")
        with stack.emulator() as emu:
            emu.delete("/_emulator/faults")
            emu.delete("/_emulator/outcomes")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
