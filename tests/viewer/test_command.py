"""`autotrace view` as a user starts it: prints its URL, serves the store, takes OTLP
on a second port, stops on Ctrl-C."""

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
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


class _View:
    """`autotrace view` in a subprocess; its stdout and stderr lines read as they come
    (reader threads: a line already buffered is never missed, as select() could)."""

    def __init__(self, store, *args, **env):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autotrace", "view", "--store", store, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
        self.lines = queue.Queue()
        for name in ("stdout", "stderr"):
            threading.Thread(target=self._read, args=(name,), daemon=True).start()
        stream, first = self.next_line()
        match = re.match(r"autotrace view: (http://127\.0\.0\.1:(\d+)/) ", first)
        assert stream == "stdout" and match, first
        self.url, self.port = match.group(1), int(match.group(2))
        assert "/v1/traces" in self.next_line()[1]

    def _read(self, name):
        for line in getattr(self.process, name):
            self.lines.put((name, line))

    def next_line(self, timeout=30):
        return self.lines.get(timeout=timeout)

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(timeout=30) == 0


def test_view_listens_on_loopback_only(example_store):
    view = _View(example_store, "--port", "0", "--otlp-port", "0")
    try:
        otlp_port = int(re.search(r":(\d+)/v1/traces", view.next_line()[1]).group(1))
        assert _listening(view.port) == ["127.0.0.1"]
        assert _listening(otlp_port) == ["127.0.0.1"]
    finally:
        view.stop()


def test_view_open_starts_the_browser_on_its_url(example_store, tmp_path):
    # webbrowser runs $BROWSER with the URL for %s: a stand-in browser that writes it down
    opened = tmp_path / "opened.txt"
    fake = tmp_path / "browser.py"
    fake.write_text(f"import sys\nopen({str(opened)!r}, 'w').write(sys.argv[1])\n")
    view = _View(example_store, "--port", "0", "--otlp-port", "-1", "--open",
                 BROWSER=f"{sys.executable} {fake} %s")
    try:
        for _ in range(100):
            if opened.exists() and opened.read_text():
                break
            time.sleep(0.1)
        assert opened.read_text() == view.url
    finally:
        view.stop()


def test_view_takes_otlp_on_4318_by_default(tmp_path):
    """The OTLP/HTTP default port, unless something else holds it: then it says so."""
    view = _View(str(tmp_path / "s.db"), "--port", "0")
    try:
        # Next comes a line on stdout (listening on 4318) or on stderr (4318 is taken).
        stream, said = view.next_line()
        if stream == "stdout":
            assert "and at http://127.0.0.1:4318/v1/traces" in said
            assert _listening(4318) == ["127.0.0.1"]
            post_otlp(Client(4318), {"java-svc": [{
                "traceId": "4" * 32, "spanId": "3" * 16, "name": "sent-to-4318",
                "startTimeUnixNano": "1000", "endTimeUnixNano": "2000"}]})
            assert [t["name"] for t in Client(view.port).get_json("/api/traces")] == ["sent-to-4318"]
        else:   # another program (or a parallel test run) holds 4318
            assert "port 4318 is taken" in said and "viewer's port only" in said, said
    finally:
        view.stop()
