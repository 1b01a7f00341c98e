"""`autotrace view` as a user starts it: prints its URL, serves the store, takes OTLP
on a second port, stops on Ctrl-C."""

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

from viewer_support import Client, post_otlp


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


def _listening(port):
    """The local addresses listening on `port` (IPv4, from the kernel's socket table)."""
    found = []
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:   # 0A: LISTEN
                found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def _start_view(store, *args, **env):
    process = subprocess.Popen([sys.executable, "-m", "autotrace", "view", "--store", store, *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **env})
    lines = [process.stdout.readline() for _ in range(2)]
    match = re.match(r"autotrace view: (http://127\.0\.0\.1:(\d+)/) ", lines[0])
    assert match, lines[0] + process.stderr.read()
    return process, match.group(1), int(match.group(2))


def _stop(process):
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0
    return out, err


def test_view_listens_on_loopback_only(example_store):
    process, _, port = _start_view(example_store, "--port", "0", "--otlp-port", "0")
    try:
        otlp_port = int(re.search(r":(\d+)/v1/traces", process.stdout.readline()).group(1))
        assert _listening(port) == ["127.0.0.1"]
        assert _listening(otlp_port) == ["127.0.0.1"]
    finally:
        _stop(process)


def test_view_open_starts_the_browser_on_its_url(example_store, tmp_path):
    # webbrowser runs $BROWSER with the URL for %s: a stand-in browser that writes it down
    opened = tmp_path / "opened.txt"
    fake = tmp_path / "browser.py"
    fake.write_text(f"import sys\nopen({str(opened)!r}, 'w').write(sys.argv[1])\n")
    process, url, _ = _start_view(example_store, "--port", "0", "--otlp-port", "-1", "--open",
                                  BROWSER=f"{sys.executable} {fake} %s")
    try:
        for _ in range(100):
            if opened.exists() and opened.read_text():
                break
            time.sleep(0.1)
        assert opened.read_text() == url
    finally:
        _stop(process)


def _taken(port):
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_view_takes_otlp_on_4318_by_default(tmp_path):
    """The OTLP/HTTP default port, unless something else holds it (then it says so)."""
    taken_before = _taken(4318)
    process, _, port = _start_view(str(tmp_path / "s.db"), "--port", "0")
    try:
        # The third line names 4318, unless it was taken (then only stderr speaks).
        ready, _, _ = select.select([process.stdout], [], [], 10)
        third = process.stdout.readline() if ready else ""
        if "127.0.0.1:4318/v1/traces" in third:
            assert not taken_before and _listening(4318) == ["127.0.0.1"]
            post_otlp(Client(4318), {"java-svc": [{
                "traceId": "4" * 32, "spanId": "3" * 16, "name": "sent-to-4318",
                "startTimeUnixNano": "1000", "endTimeUnixNano": "2000"}]})
            assert [t["name"] for t in Client(port).get_json("/api/traces")] == ["sent-to-4318"]
        else:   # another program (or a parallel test run) holds 4318
            assert _taken(4318)
    finally:
        _, err = _stop(process)
    if "4318" not in third:
        assert "port 4318 is taken" in err and "viewer's port only" in err, err
