"""Servers and reloaders under `autotrace run`: werkzeug's server with its reloader,
`flask run --reload`, gunicorn (sync workers, --preload, gthread) and uvicorn
(--workers, --reload), each serving real requests on an ephemeral port.

For every one: each request is exactly one stored SERVER span named after the route,
continuing the caller's traceparent when there is one; every worker process exports
its own spans; no two spans share an id and no two requests share a trace; reloader
parents add nothing. The server is stopped right after the last answer (SIGTERM to
the main process; Ctrl-C for werkzeug's reloader, see CTRL_C), with the default
schedule delay, so the last spans are still queued: they must be in the store all
the same. Reloaders are made to reload once, so the child they replace
flushes its spans on the way out too.
"""

import os
import shutil
import signal
import time
from collections import Counter, namedtuple
from concurrent.futures import ThreadPoolExecutor

import pytest

from server_support import APPS, Server, command, get, gunicorn, new_parent, stored_spans, traceresponse_ids, uvicorn
from support import autotrace_env

FLASK_ROUTE = "/items/<int:item_id>"
STARLETTE_ROUTE = "/items/{item_id}"   # Starlette's path format: no converter

Answer = namedtuple("Answer", "parent pid trace_id span_id")

# How each server is started and stopped: `argv()` runs `app` (a file of apps/) in a
# copy of it; `workers` processes (at least) serve; `reloads`, when set, is the line a new child
# logs as it starts: the app is touched once to make the reloader replace its child;
# `stop` is (signal, to the whole process group?).
Case = namedtuple("Case", "argv app workers reloads stop route")
SIGTERM = (signal.SIGTERM, False)   # a process manager: to the main process
# werkzeug's reloader SIGKILLs its child when it gets SIGTERM (subprocess.call's cleanup),
# so nothing in the child can flush then; Ctrl-C reaches the whole group and the child
# has the 0.25 s that Popen.wait gives a child after KeyboardInterrupt.
CTRL_C = (signal.SIGINT, True)
WERKZEUG_CHILD = " * Restarting with"
UVICORN_CHILD = "Started server process"
SERVERS = {
    "werkzeug-reloader": Case(lambda: command("python", "shop_wsgi.py"), "shop_wsgi.py", 1, WERKZEUG_CHILD, CTRL_C,
                              FLASK_ROUTE),
    "flask-run-reload": Case(lambda: command("flask", "--app", "shop_wsgi", "run", "--reload", "--port", "0"),
                             "shop_wsgi.py", 1, WERKZEUG_CHILD, CTRL_C, FLASK_ROUTE),
    "gunicorn-2-sync": Case(lambda: gunicorn("-w", "2", "shop_wsgi:app"), "shop_wsgi.py", 2, None, SIGTERM,
                            FLASK_ROUTE),
    "gunicorn-preload": Case(lambda: gunicorn("-w", "2", "--preload", "shop_wsgi:app"), "shop_wsgi.py", 2, None,
                             SIGTERM, FLASK_ROUTE),
    "gunicorn-gthread": Case(lambda: gunicorn("-w", "2", "--threads", "4", "shop_wsgi:app"), "shop_wsgi.py", 2,
                             None, SIGTERM, FLASK_ROUTE),
    # A worker recycled after 8 requests exits on its own, between two of our rounds or in one.
    "gunicorn-max-requests": Case(lambda: gunicorn("-w", "1", "--max-requests", "8", "shop_wsgi:app"),
                                  "shop_wsgi.py", 3, None, SIGTERM, FLASK_ROUTE),
    "uvicorn-2-workers": Case(lambda: uvicorn("--workers", "2", "shop_asgi:app"), "shop_asgi.py", 2, None, SIGTERM,
                              STARLETTE_ROUTE),
    "uvicorn-reload": Case(lambda: uvicorn("--reload", "shop_asgi:app"), "shop_asgi.py", 1, UVICORN_CHILD, SIGTERM,
                           STARLETTE_ROUTE),
}


@pytest.mark.parametrize("name", list(SERVERS))
def test_every_worker_traces_its_requests_and_flushes_them_at_exit(tmp_path, name):
    case = SERVERS[name]
    # The app runs from a copy, so that touching it to make a reloader reload is harmless.
    shutil.copy(os.path.join(APPS, case.app), tmp_path)
    env = autotrace_env(tmp_path, AUTOTRACE_TRACERESPONSE="true")
    server = Server(case.argv(), env, tmp_path / "server.log", cwd=tmp_path)
    try:
        answers = []
        with ThreadPoolExecutor(16) as pool:
            serve_until(server, pool, lambda: len({a.pid for a in answers}) >= case.workers, answers)
            if case.reloads:
                reload(server, tmp_path / case.app, case.reloads)
                serve_round(server, pool, answers)
        signum, whole_group = case.stop
        server.stop(signum, whole_group)
    finally:
        server.kill()

    pids = Counter(a.pid for a in answers)
    assert len(pids) >= case.workers + bool(case.reloads), (pids, server.log())
    spans = stored_spans(env["AUTOTRACE_STORE"])
    assert [s["kind"] for s in spans] == ["SERVER"] * len(answers), server.log()
    assert len({s["span_id"] for s in spans}) == len({s["trace_id"] for s in spans}) == len(answers)
    by_ids = {(s["trace_id"], s["span_id"]): s for s in spans}
    assert set(by_ids) == {(a.trace_id, a.span_id) for a in answers}   # every worker's, every one
    for answer in answers:
        span = by_ids[answer.trace_id, answer.span_id]
        if answer.parent is not None:
            assert (span["trace_id"], span["parent_span_id"]) == answer.parent[:2]
        else:
            assert span["parent_span_id"] is None
        assert span["attributes"]["http.response.status_code"] == 200
        assert span["attributes"]["url.path"] == "/items/7"
        assert span["name"] == "GET " + case.route and span["attributes"]["http.route"] == case.route


def serve_until(server, pool, done, answers, rounds=100):
    """Rounds of concurrent requests into `answers` until `done()` (bounded): a worker
    still starting takes no connections, and one alone may take a whole round."""
    for _ in range(rounds):
        serve_round(server, pool, answers)
        if done():
            return
        time.sleep(0.1)
    raise AssertionError("not done after %d rounds: pids %s\n%s"
                         % (rounds, Counter(a.pid for a in answers), server.log()))


def reload(server, app, child_started, wait_s=30.0):
    """Touch the app until the reloader has started a new child. Requests wait until
    then: werkzeug's old child would leave one in flight behind as it exits (its
    server threads are daemons)."""
    deadline = time.monotonic() + wait_s
    for step in range(1, 1000):
        # Again and later each time: uvicorn's StatReload takes its first mtimes after
        # a delay, and a touch before that is its baseline, not a change.
        os.utime(app, (time.time() + step, time.time() + step))
        for _ in range(10):
            if server.log().count(child_started) == 2:
                return
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)


def serve_round(server, pool, answers, size=16):
    """`size` requests at once, every other one with a caller's traceparent."""
    parents = [new_parent() if i % 2 == 0 else None for i in range(size)]
    answers.extend(pool.map(lambda parent: ask(server, parent), parents))


def ask(server, parent):
    response = get(server.port, "/items/7", *(["traceparent: " + parent[2]] if parent else []))
    assert response.status == 200, response
    return Answer(parent, int(response.body), *traceresponse_ids(response))
