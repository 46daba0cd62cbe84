"""A bounded schemathesis run in the suite (the full one is `make fuzz`): gunicorn with DEBUG=0
on demo data, the schema's examples and two generated cases per operation. It must
find no server error and no answer outside the schema (status code, content type, headers,
body)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance", "unsupported_method",
])


@pytest.mark.integration
def test_schemathesis_finds_no_server_error_and_no_schema_violation():
    run = subprocess.run(
        [sys.executable, str(ROOT / "bin" / "fuzz.py"), "--phases", "examples,fuzzing",
         "--max-examples", "2", "--checks", CHECKS, "--no-color"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    summary = run.stdout[-6000:]
    assert run.returncode == 0, summary + run.stderr[-2000:]
    assert "Tested: " in summary and " passed" in summary, summary
    assert "failures" not in summary.split("Test cases:")[-1], summary
