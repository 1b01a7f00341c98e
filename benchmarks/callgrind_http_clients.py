"""Instructions per request of `requests.get` / `httpx.Client.get` under callgrind:
load-independent, unlike bench_http_clients.py's wall clock on a shared machine.

usage: python benchmarks/callgrind_http_clients.py [--low N] [--high N] [--modes bare,autotrace]
       [--clients requests,httpx]

Each (client, mode) runs twice under `valgrind --tool=callgrind` (PYTHONHASHSEED=0,
OTEL_TRACES_EXPORTER=none), making `low` and `high` calls after the same warm-up, so
start-up cancels: per request = (count(high) - count(low)) / (high - low). The
keep-alive server of bench_http_clients.py runs in its own process, not counted.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

from bench_http_clients import CLIENT_LOOP, SERVER, free_port


def instructions(client_name, url, calls, mode, folder):
    out = os.path.join(folder, "callgrind.%s.%s.%d" % (client_name, mode, calls))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRACE_", "OTEL_"))}
    env.update(PYTHONHASHSEED="0", OTEL_TRACES_EXPORTER="none")
    result = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, sys.executable,
                             "-c", CLIENT_LOOP, client_name, url, str(calls), mode],
                            capture_output=True, text=True, env=env)
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or found is None:
        raise SystemExit("callgrind run failed:\n" + result.stderr[-3000:])
    return int(found.group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--low", type=int, default=300)
    parser.add_argument("--high", type=int, default=1300)
    parser.add_argument("--modes", default="bare,autotrace")
    parser.add_argument("--clients", default="requests,httpx")
    parser.add_argument("--keep", help="folder to keep the callgrind.out files in")
    options = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE, text=True)
    server.stdout.readline()
    url = "http://127.0.0.1:%d/items?page=2" % port
    folder = options.keep or tempfile.mkdtemp()
    os.makedirs(folder, exist_ok=True)
    try:
        for client_name in options.clients.split(","):
            per_mode = {}
            for mode in options.modes.split(","):
                low = instructions(client_name, url, options.low, mode, folder)
                high = instructions(client_name, url, options.high, mode, folder)
                per_mode[mode] = (high - low) / (options.high - options.low)
                print("%s %-10s %10.0f instructions/request" % (client_name, mode, per_mode[mode]), flush=True)
            if "bare" in per_mode:
                for mode, value in per_mode.items():
                    if mode != "bare":
                        print("%s %-10s added %8.0f" % (client_name, mode, value - per_mode["bare"]), flush=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
