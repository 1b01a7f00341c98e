"""`autotrace view` as a user starts it: prints its URL, serves the store, takes OTLP
on a second port, stops on Ctrl-C."""

import re
import signal
import subprocess
import sys

from viewer_support import Client


def test_view_prints_its_url_serves_and_stops(example_store):
    process = subprocess.Popen([sys.executable, "-m", "autotrace", "view", "--store", example_store,
                                "--port", "0", "--otlp-port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        match = re.match(r"autotrace view: http://127\.0\.0\.1:(\d+)/ ", first)
        assert match, first + process.stderr.read()
        ui = Client(int(match.group(1)))
        assert "/v1/traces" in process.stdout.readline()
        otlp_line = process.stdout.readline()
        otlp = Client(int(re.search(r":(\d+)/v1/traces", otlp_line).group(1)))
        names = [t["name"] for t in ui.get_json("/api/traces")]
        assert "checkout" in names
        assert otlp.post("/v1/traces", b'{"resourceSpans": []}', "application/json")[:2] == (200, b"{}")
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and err == "", err


def test_view_reports_a_taken_port(example_store):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "autotrace", "view", "--store", example_store,
                                 "--port", str(port)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "--port" in result.stderr
