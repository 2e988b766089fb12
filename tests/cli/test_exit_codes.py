"""Every error of the client library has its exit code and a one-line message (no stack needed); a missing
client library is one line too."""

from __future__ import annotations

import subprocess
import sys

import ffgate_client as ffc
import pytest

from ffgate.cli.remote import ExitCode, classify


def problem(status: int, type_: str = "about:blank", **extra: object) -> ffc.Problem:
    return ffc.Problem.model_validate(
        {"type": type_, "status": status, "detail": "why", "requestId": "req-1", **extra}
    )


GENERATION = ffc.Generation.model_validate(
    {
        "id": "gen_1",
        "status": "failed",
        "createdAt": "t",
        "updatedAt": "t",
        "error": {"code": "boom", "message": "m"},
    }
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ffc.ModelNotFound("Nope"), ExitCode.UNKNOWN_MODEL),
        (ffc.AuthenticationError(problem(401)), ExitCode.KEY_REFUSED),
        (ffc.PermissionDenied(problem(403)), ExitCode.KEY_REFUSED),
        (ffc.RateLimited(problem(429), 30), ExitCode.RATE_LIMITED),
        (ffc.QuotaExceeded(problem(429, "urn:ffgate:problem:quota-exceeded"), 3600), ExitCode.RATE_LIMITED),
        (
            ffc.InvalidRequest(problem(422, errors=[{"loc": ["body", "prompt"], "msg": "too long"}])),
            ExitCode.REFUSED,
        ),
        (ffc.BadRequest(problem(415)), ExitCode.REFUSED),
        (ffc.NotFound(problem(404)), ExitCode.REFUSED),
        (ffc.Conflict(problem(409)), ExitCode.REFUSED),
        (ffc.ServiceUnavailable(problem(503)), ExitCode.UNREACHABLE),
        (ffc.ServerError(problem(500)), ExitCode.UNREACHABLE),
        (ffc.GatewayUnreachable("no answer"), ExitCode.UNREACHABLE),
        (ffc.ProtocolError("not JSON"), ExitCode.UNREACHABLE),
        (ffc.IntegrityError("sha256"), ExitCode.DOWNLOAD),
        (ffc.DownloadError("interrupted"), ExitCode.DOWNLOAD),
        (ffc.WriteError("disk full"), ExitCode.WRITE),
        (ffc.WaitTimeout(GENERATION, 5), ExitCode.TIMEOUT),
        (ffc.GenerationFailed(GENERATION), ExitCode.FAILED),
        (ffc.GenerationCanceled(GENERATION), ExitCode.CANCELED),
        (RuntimeError("a bug"), ExitCode.INTERNAL),
    ],
)
def test_each_error_has_its_exit_code_and_one_line(error: BaseException, code: ExitCode) -> None:
    got, message = classify(error)
    assert got == code
    assert message and "\n" not in message
    if getattr(error, "problem", None) is not None:
        assert "req-1" in message  # the request id, to quote to whoever runs the gateway


def test_the_codes_are_distinct_where_the_issue_asks() -> None:
    names = [
        "FAILED",
        "CANCELED",
        "REFUSED",
        "UNKNOWN_MODEL",
        "KEY_REFUSED",
        "UNREACHABLE",
        "DOWNLOAD",
        "WRITE",
    ]
    codes = [ExitCode[name] for name in names]
    assert len(set(codes)) == len(codes) and ExitCode.OK == 0


def test_without_the_client_library_a_command_says_so_in_one_line() -> None:
    script = (
        "import sys\n"
        "sys.modules['ffgate_client'] = None  # as if it were not installed\n"
        "from ffgate.cli import app\n"
        "app(['models', '--key', 'k'], prog_name='ffgate')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "ffgate: this command needs the client library: pip install ./clients/python"
    )
