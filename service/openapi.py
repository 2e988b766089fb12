"""`openapi/gateway.json`: the contract as the app serves it, rendered stably so a test can diff it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ffgate.config import Settings
from service.app import create_app

CHECKED_IN = Path(__file__).resolve().parent.parent / "openapi" / "gateway.json"


def render() -> str:
    app = create_app(Settings())
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    """`python -m service.openapi [--check]`: write the file, or fail if it is stale."""
    text = render()
    if "--check" in sys.argv[1:]:
        if not CHECKED_IN.exists() or CHECKED_IN.read_text() != text:
            sys.exit(f"{CHECKED_IN} is stale: run `python -m service.openapi`")
        return
    CHECKED_IN.write_text(text)


if __name__ == "__main__":
    main()
