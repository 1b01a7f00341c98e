"""Startup cost: `autotrace run python -c pass` and the bootstrap alone, against bare.

usage: python benchmarks/bench_startup.py [--venv PATH] [--runs N]
Builds (or reuses) a venv with autotrace, requests and psycopg installed normally."""

import argparse
import os
import subprocess

from _common import bench_venv, machine, time_command

IMPORTS = "import requests, psycopg, sqlite3"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--venv", default="/tmp/autotrace-bench-venv")
    parser.add_argument("--runs", type=int, default=20)
    options = parser.parse_args()
    python = bench_venv(options.venv, ["requests", "psycopg[binary]"])
    autotrace = os.path.join(options.venv, "bin", "autotrace")
    folder = subprocess.run([autotrace, "path"], capture_output=True, text=True, check=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRACE_", "OTEL_", "PYTHONPATH"))}
    env["AUTOTRACE_STORE"] = "/tmp/autotrace-bench-startup.db"
    bootstrapped = dict(env, PYTHONPATH=folder)
    runs = options.runs

    rows = []
    for label, code in (("python -c pass", "pass"), ("import requests+psycopg+sqlite3", IMPORTS)):
        bare = time_command([python, "-c", code], env, runs)
        via_path = time_command([python, "-c", code], bootstrapped, runs)
        via_run = time_command([autotrace, "run", python, "-c", code], env, runs)
        rows.append((label, bare, via_path, via_run))

    print("machine: " + machine())
    print("median of %d runs, ms" % runs)
    print("%-34s %8s %22s %22s" % ("program", "bare", "PYTHONPATH bootstrap", "autotrace run"))
    for label, bare, via_path, via_run in rows:
        print("%-34s %8.1f %13.1f (+%5.1f) %13.1f (+%5.1f)"
              % (label, bare, via_path, via_path - bare, via_run, via_run - bare))


if __name__ == "__main__":
    main()
