"""Startup cost: `autotrace run python -c pass` and the bootstrap alone, against bare.

usage: python benchmarks/bench_startup.py [--venv PATH] [--runs N]
Builds (or reuses) a venv with autotrace, requests and psycopg installed normally, and
a second one with opentelemetry-instrument (opentelemetry-distro and the contrib
instrumentations for the same libraries) to measure it in the same run."""

import argparse
import os
import subprocess
import sys

from _common import bench_venv, machine, time_command

OTEL_PACKAGES = ["opentelemetry-distro", "opentelemetry-exporter-otlp-proto-http",
                 "opentelemetry-instrumentation-requests", "opentelemetry-instrumentation-psycopg",
                 "opentelemetry-instrumentation-sqlite3", "requests", "psycopg[binary]"]


def otel_venv(path):
    python = os.path.join(path, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check"] + OTEL_PACKAGES,
                       check=True)
    return python

IMPORTS = "import requests, psycopg, sqlite3"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--venv", default="/tmp/autotrace-bench-venv")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--otel-venv", default="/tmp/otel-instrument-bench-venv")
    options = parser.parse_args()
    python = bench_venv(options.venv, ["requests", "psycopg[binary]"])
    autotrace = os.path.join(options.venv, "bin", "autotrace")
    folder = subprocess.run([autotrace, "path"], capture_output=True, text=True, check=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRACE_", "OTEL_", "PYTHONPATH"))}
    env["AUTOTRACE_STORE"] = "/tmp/autotrace-bench-startup.db"
    bootstrapped = dict(env, PYTHONPATH=folder)
    runs = options.runs

    otel_python = otel_venv(options.otel_venv)
    otel_instrument = os.path.join(options.otel_venv, "bin", "opentelemetry-instrument")
    otel_env = dict(env, OTEL_TRACES_EXPORTER="otlp", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")

    rows = []
    for label, code in (("python -c pass", "pass"), ("import requests+psycopg+sqlite3", IMPORTS)):
        bare = time_command([python, "-c", code], env, runs)
        via_path = time_command([python, "-c", code], bootstrapped, runs)
        via_run = time_command([autotrace, "run", python, "-c", code], env, runs)
        otel_bare = time_command([otel_python, "-c", code], otel_env, runs)
        otel = time_command([otel_instrument, otel_python, "-c", code], otel_env, runs)
        rows.append((label, bare, via_path, via_run, otel_bare, otel))

    print("machine: " + machine())
    print("median of %d runs, ms (added over bare in parentheses)" % runs)
    print("%-34s %7s %19s %19s %26s" % ("program", "bare", "PYTHONPATH bootstrap", "autotrace run",
                                         "opentelemetry-instrument"))
    for label, bare, via_path, via_run, otel_bare, otel in rows:
        print("%-34s %7.1f %11.1f (+%5.1f) %11.1f (+%5.1f) %18.1f (+%5.1f)"
              % (label, bare, via_path, via_path - bare, via_run, via_run - bare, otel, otel - otel_bare))


if __name__ == "__main__":
    main()
