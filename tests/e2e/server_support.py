"""Real servers for the end-to-end server tests (import as `from server_support import ...`).

A `Server` is gunicorn, uvicorn or werkzeug's server started as a subprocess in the
apps folder, under `autotrace run` or bare (the control of the bad-input test), on an
ephemeral port of 127.0.0.1 that it picks itself and prints. Spans are read back from
the SQLite store file the traced processes write.
"""

import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import namedtuple

from autotrace.store.indexer import catch_up

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")
BIN = os.path.dirname(sys.executable)
# gunicorn "Listening at: http://...", uvicorn "Uvicorn running on http://...", werkzeug "Running on http://..."
_PORT_LINE = re.compile(r"(?:Listening at:|[Rr]unning on) http://127\.0\.0\.1:(\d+)")


def command(name, *args):
    """argv for a console script of this venv (gunicorn, uvicorn, flask) or python."""
    return [sys.executable if name == "python" else os.path.join(BIN, name)] + list(args)


def gunicorn(*args):
    """gunicorn on an ephemeral port, without its control socket (a fixed path shared by
    every gunicorn of the machine, so two tests at once would fight over it)."""
    from gunicorn.config import Config
    quiet = ["--no-control-socket"] if "control_socket_disable" in Config().settings else []
    return command("gunicorn", "-b", "127.0.0.1:0", *quiet, *args)


def uvicorn(*args):
    return command("uvicorn", "--host", "127.0.0.1", "--port", "0", *args)


class Server:
    """A server process in a process group of its own; output goes to `log_path`."""

    def __init__(self, argv, env, log_path, traced=True, cwd=APPS, wait_s=30.0):
        if traced:
            argv = [sys.executable, "-m", "autotrace", "run"] + list(argv)
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self.pgid = self.process.pid
        try:
            self.port = self._wait_for_port(wait_s)
        except BaseException:
            self.kill()
            raise
        self.url = "http://127.0.0.1:%d" % self.port

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()

    def _wait_for_port(self, wait_s):
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            found = _PORT_LINE.search(self.log())
            if found and _accepts(int(found.group(1))):
                return int(found.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("the server printed no port:\n" + self.log())

    def stop(self, signum=signal.SIGTERM, whole_group=False, wait_s=30.0):
        """`signum` to the main process, as a process manager sends SIGTERM (or to the
        whole group, as a terminal's Ctrl-C reaches every process); then wait until
        every process of the group is gone. Returns the main process's exit status."""
        if whole_group:
            _signal_group(self.pgid, signum)
        else:
            self.process.send_signal(signum)
        deadline = time.monotonic() + wait_s
        try:
            status = self.process.wait(wait_s)
            while _group_alive(self.pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not _group_alive(self.pgid), "processes of the server outlived it:\n" + self.log()
            return status
        finally:
            self.kill()

    def kill(self):
        """SIGKILL whatever is left of the group (for `finally`)."""
        _signal_group(self.pgid, signal.SIGKILL)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass


def _accepts(port):
    # uvicorn's supervisors bind the socket (and print the port) before a worker listens.
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return True
    except OSError:
        return False


def _signal_group(pgid, signum):
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid):
    """Any live (not zombie) process in the group: orphans are reaped by whoever is
    pid 1 here, which may never do it, so a zombie counts as gone."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


# -- requests as bytes ----------------------------------------------------------------

Response = namedtuple("Response", "status headers body")


def exchange(port, data, wait_s=30.0):
    """Send raw request bytes, read until the server closes the connection. Waiting for
    the close rather than for Content-Length bytes means the server has finished the
    request (closed the WSGI body, so its span has ended) before the test goes on."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:   # the server refused the rest of what we sent
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def parse(raw):
    """Response(status, {lower-case name: value}, body) of a whole HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Response(int(status_line.split()[1]), headers, body)


def get(port, path, *headers):
    """GET `path` with `Connection: close` and the extra header lines given."""
    lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port, "Connection: close"] + list(headers)
    return parse(exchange(port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")))


# -- trace context --------------------------------------------------------------------

def new_parent():
    """(trace id, span id, traceparent header) of a made-up caller, sampled."""
    trace_id = "%032x" % random.getrandbits(128)
    span_id = "%016x" % random.getrandbits(64)
    return trace_id, span_id, "00-%s-%s-01" % (trace_id, span_id)


def traceresponse_ids(response):
    """(trace id, span id) from a response's W3C `traceresponse` header."""
    _version, trace_id, span_id, _flags = response.headers["traceresponse"].split("-")
    return trace_id, span_id


# -- the store -------------------------------------------------------------------------

def stored_spans(path):
    """Every span in the store as a dict, JSON columns decoded ([] when no store yet)."""
    if not os.path.exists(path):
        return []
    catch_up(path)   # index what the apps spooled, as every reader of the store does
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        # Spans are keyed by their trace's number; the trace id lives in `traces`.
        rows = conn.execute("SELECT traces.trace_id AS trace_id, spans.* FROM spans "
                            "JOIN traces USING (trace_no) ORDER BY spans.start_ns").fetchall()
    except sqlite3.OperationalError:   # created, no table yet
        return []
    finally:
        conn.close()
    spans = []
    for row in rows:
        span = dict(row)
        for column in ("attributes", "events", "links", "resource"):
            span[column] = json.loads(span[column])
        spans.append(span)
    return spans


def wait_for_spans(path, predicate, wait_s=20.0):
    """The stored spans once `predicate(spans)` holds, or as they are after `wait_s`."""
    deadline = time.monotonic() + wait_s
    while True:
        spans = stored_spans(path)
        if predicate(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.1)
