"""Helpers for the benchmark scripts: medians, a machine line, a non-editable venv."""

import os
import platform
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d cores, Python %s" % (cpu, os.cpu_count() or 0, platform.python_version())


def median(values):
    return statistics.median(values)


def bench_venv(path, extra=()):
    """A venv with autotrace installed the way users install it (not editable: an
    editable install adds a finder that costs ~15 ms on every interpreter start)."""
    python = os.path.join(path, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", REPO] + list(extra),
                   check=True)
    return python


def time_command(command, env=None, runs=20, warmup=3):
    """Median wall time in ms of running `command` to completion."""
    samples = []
    for i in range(runs + warmup):
        started = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        if i >= warmup:
            samples.append((time.perf_counter() - started) * 1000)
    return median(samples)
