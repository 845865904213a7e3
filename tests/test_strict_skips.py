"""A test that needs something absent skips with a message naming what to install; under CI's
DISASTER_AI_REQUIRE_SERVICES=1 every such skip (require_tool, pytest.skip, a test's or a module's
pytest.importorskip) is a failure (disaster_ai.testing, loaded by the pytest11 entry point)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # two pytest runs in subprocesses

SAMPLE = {
    "test_needs.py": """
        import pytest
        from disaster_ai.testing import require_tool

        def test_a_tool():
            require_tool("no-such-tool-dai", "no-such-debian-package", "renders something")

        def test_an_engine():
            pytest.importorskip("no_such_engine_dai")

        def test_plain_skip():
            pytest.skip("needs something")

        @pytest.mark.xfail(reason="known")
        def test_known_failure():
            assert False

        def test_runs():
            assert True
    """,
    "test_module_needs.py": """
        import pytest
        pytest.importorskip("no_such_engine_dai")

        def test_never_collected():
            pass
    """,
}


def run_sample(tmp_path, strict: bool):
    for name, body in SAMPLE.items():
        (tmp_path / name).write_text(textwrap.dedent(body))
    env = {k: v for k, v in os.environ.items() if k != "DISASTER_AI_REQUIRE_SERVICES"}
    if strict:
        env["DISASTER_AI_REQUIRE_SERVICES"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "--rootdir", tmp_path]
        + ["--continue-on-collection-errors", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_absent_things_skip_and_name_the_package(tmp_path):
    result = run_sample(tmp_path, strict=False)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 4 skipped, 1 xfailed" in result.stdout
    assert "no-such-tool-dai is not installed: apt-get install no-such-debian-package" in (
        result.stdout
    )


def test_under_the_strict_variable_every_skip_fails(tmp_path):
    result = run_sample(tmp_path, strict=True)
    assert result.returncode == 1, result.stdout
    assert "3 failed, 1 passed, 1 xfailed, 1 error" in result.stdout
    for name in ("test_a_tool", "test_an_engine", "test_plain_skip"):
        assert f"FAILED test_needs.py::{name}" in result.stdout
    assert "ERROR test_module_needs.py" in result.stdout
    assert result.stdout.count("DISASTER_AI_REQUIRE_SERVICES=1 turns this skip into") >= 4
