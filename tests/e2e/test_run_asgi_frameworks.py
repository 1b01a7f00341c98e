"""`autotrace run uvicorn` serving a FastAPI app on a loopback port: uvicorn's layer is
the outermost and makes the span, FastAPI and Starlette name it; FastAPI's own tracing
stands aside. Spans are read back from the store after the server stopped."""

import os
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter

import httpx
import pytest
from websockets.sync.client import connect

from support import autotrace_env
from autotrace.store.queries import get_trace, list_traces

APPS = os.path.join(os.path.dirname(__file__), "apps")


def start_uvicorn(env, app):
    """uvicorn on 127.0.0.1 with a port the system picks; returns (process, base URL, log
    lines). A thread keeps reading its log, so a full pipe never blocks the server."""
    process = subprocess.Popen(
        [sys.executable, "-m", "autotrace", "run", sys.executable, "-m", "uvicorn", app, "--app-dir", APPS,
         "--host", "127.0.0.1", "--port", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log, address = [], queue.Queue()

    def read():   # for the server's whole life: a full pipe would block it
        for line in process.stderr:
            log.append(line)
            if "Uvicorn running on " in line:
                address.put(line.split("Uvicorn running on ", 1)[1].split()[0])
        address.put(None)   # it exited

    threading.Thread(target=read, daemon=True).start()
    try:
        base = address.get(timeout=60)
    except queue.Empty:
        base = None
    if base is None:
        stop(process)
        pytest.fail("uvicorn did not start:\n" + "".join(log))
    return process, base, log


def stop(process):
    """SIGTERM (uvicorn shuts down, autotrace flushes), then kill if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def all_spans(store):
    return [span for trace in list_traces(store, limit=None) for span in get_trace(store, trace["trace_id"])]


def test_uvicorn_fastapi_spans_are_named_by_route(tmp_path):
    env = autotrace_env(tmp_path, OTEL_SERVICE_NAME="shop")
    process, base, log = start_uvicorn(env, "fastapi_app:app")
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/items/3").json() == {"id": 3}
            assert client.get("/v1/users/4").json() == {"user": 4}
            assert client.get("/v1/deep/inner/things/t9").json() == {"thing": "t9"}
            assert client.get("/legacy/acme/reports/12").text == "report 12"
            assert client.get("/no/such/page").status_code == 404
            with client.stream("GET", "/feed") as response:   # read a little, then hang up
                assert next(response.iter_bytes()).startswith(b"event 0")
        # uvicorn closes the connection after an app's exception: a connection of its own
        assert httpx.get(base + "/boom", timeout=30).status_code == 500
        with connect(base.replace("http://", "ws://") + "/ws/lobby", open_timeout=30) as websocket:
            websocket.send("hi")
            assert websocket.recv(timeout=30) == "lobby: hi"
    finally:
        stop(process)
    assert process.returncode in (0, -signal.SIGTERM), "".join(log)   # uvicorn re-raises the signal once shut down

    spans = all_spans(env["AUTOTRACE_STORE"])
    servers = [s for s in spans if s["kind"] == "SERVER"]
    assert Counter(s["name"] for s in servers) == Counter([
        "GET /items/{item_id}", "GET /v1/users/{user_id}", "GET /v1/deep/inner/things/{thing_id}",
        "GET /legacy/{tenant}/reports/{report_id}", "GET", "GET /boom", "GET /feed", "WEBSOCKET /ws/{room}"])
    assert {s["scope_name"] for s in spans} == {"autotrace.instrumentations.uvicorn"}   # nothing from FastAPI itself
    boom = next(s for s in servers if s["name"] == "GET /boom")
    assert boom["status_code"] == "ERROR" and boom["attributes"]["error.type"] == "RuntimeError"
    assert [e["name"] for e in boom["events"]] == ["exception"]
    websocket_span = next(s for s in servers if s["name"].startswith("WEBSOCKET"))
    assert websocket_span["attributes"]["http.response.status_code"] == 101
