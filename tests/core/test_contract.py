"""Every spec, four ways, each in a fresh interpreter: import then patch, patch then
import, patch/unpatch/patch, double patch. The probe asserts that the targets are
really wrapped (once) or really restored (the very same objects)."""

import os
import subprocess
import sys

import pytest

from autotrace.registry import load_specs

PROBE = os.path.join(os.path.dirname(__file__), "contract_probe.py")
SCENARIOS = ["import_then_patch", "patch_then_import", "patch_unpatch_patch", "double_patch"]
SPECS = sorted(load_specs())


def test_every_builtin_spec_is_listed():
    assert {"requests", "psycopg", "sqlite3", "urllib3", "httpx", "http_client", "aiohttp_client"} <= set(SPECS)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("name", SPECS)
def test_contract(name, scenario):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRACE_", "OTEL_"))}
    result = subprocess.run([sys.executable, PROBE, name, scenario], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr
    assert "autotrace: warning" not in result.stderr, result.stderr
