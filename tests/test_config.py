"""Settings that take a shape of their own in the environment (ffgate/config.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ffgate.config import Settings


def test_client_weights_are_read_as_name_equals_weight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFGATE_CLIENT_WEIGHTS", "svc-a=3, batch = 1,")
    assert Settings().client_weights == {"svc-a": 3, "batch": 1}
    monkeypatch.delenv("FFGATE_CLIENT_WEIGHTS")
    assert Settings().client_weights == {}


@pytest.mark.parametrize("value", ["svc-a", "svc-a=0", "=2", "svc-a=heavy"])
def test_a_weight_must_name_a_client_and_be_at_least_1(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FFGATE_CLIENT_WEIGHTS", value)
    with pytest.raises(ValidationError, match="client_weights"):
        Settings()
