"""mypy over the four packages, with the project's configuration: the type check CI runs (issue 19 item 3)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["backtests", "forecasting", "strategies", "reports"]


def test_mypy_passes_over_the_packages_with_untyped_defs_checked() -> None:
    # The default cache (.mypy_cache, git-ignored) keeps a rerun to about a second; mypy checks it is current.
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--check-untyped-defs",
               *PACKAGES]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"mypy failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"


def test_mypy_skips_only_named_third_party_packages() -> None:
    """No blanket ignore: missing imports are allowed only for listed outside packages, never for ours."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["check_untyped_defs"] is True and "ignore_missing_imports" not in config
    assert "ignore_errors" not in config and "ignore-without-code" in config["enable_error_code"]
    for override in config["overrides"]:
        assert "ignore_errors" not in override
        assert not any(m.split(".")[0] in PACKAGES for m in override["module"]), override["module"]
