"""The `autotrace view` HTTP server: UI assets, a read-only JSON API over the store,
a live feed of new traces (server-sent events) and OTLP/HTTP trace ingest.

Safety, since it runs on a developer's machine next to a browser:
  * it binds loopback by default, and refuses requests whose Host header is not a
    loopback name (a DNS-rebinding page would send its own host name), or whose
    Origin is a web page elsewhere (a cross-site form post);
  * only files bundled in autotrace/viewer/static are served, looked up by exact name;
  * nothing changes the store except ingest and import; bodies over 16 MiB get 413;
    bad OTLP gets 400 with the reason, and nothing of that request is stored.
"""

import http.server
import importlib.resources
import ipaddress
import json
import threading
import time
import urllib.parse
import zlib

from autotrace.store import queries

from . import analysis, params, transfer
from .otlp import OtlpError, rows_from_json, rows_from_protobuf
from autotrace.store.rows import to_json

__all__ = ["Viewer", "DEFAULT_PORT", "OTLP_PORT", "MAX_BODY"]

DEFAULT_PORT = 7318          # the UI and API (not an OTLP port, not Jaeger's 16686)
OTLP_PORT = 4318             # OTLP/HTTP's standard port: SDKs send here by default
MAX_BODY = 16 * 1024 * 1024
LIVE_POLL_S = 0.5
LIVE_HEARTBEAT_S = 15.0
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_PAGES = ("/", "/map")
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}


def _json_text(value):
    """Stored text that may not be JSON, as JSON: valid JSON as it is, else a string."""
    try:
        json.loads(value)
        return value
    except (TypeError, ValueError):
        return to_json(value)


class HttpError(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def is_loopback_host(host):
    name = host.strip().lower().rstrip(".")
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_part(value):
    value = value.strip()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def load_assets():
    """{name: bytes} of the bundled UI files; the only files the server will send."""
    folder = importlib.resources.files("autotrace.viewer") / "static"
    return {entry.name: entry.read_bytes() for entry in folder.iterdir()
            if entry.is_file() and not entry.name.startswith(".")}


class Viewer:
    """The state shared by the UI listener and the OTLP listener."""

    def __init__(self, store, writer, host="127.0.0.1", extra_hosts=()):
        self.store = store
        self.writer = writer
        self.assets = load_assets()
        self.any_host = host in ("0.0.0.0", "::", "")
        self.allowed_hosts = {h.lower() for h in (host, *extra_hosts) if h}
        self.stopping = threading.Event()
        self.servers = []

    def host_allowed(self, host_header):
        if self.any_host:
            return True
        if not host_header:
            return False
        host = _host_part(host_header).lower()
        return is_loopback_host(host) or host in self.allowed_hosts

    def origin_allowed(self, origin, host_header):
        """A browser's Origin: our own page, or another page on this machine. "null"
        (sandboxed frames, files) is refused: any web site can produce it."""
        name = (urllib.parse.urlsplit(origin).hostname or "").lower()
        if not name or origin.strip() == "null":
            return False
        own = _host_part(host_header or "").lower().strip("[]")
        return is_loopback_host(name) or name in self.allowed_hosts or name == own

    def serve(self, host, port, ingest_only=False):
        """Start a listener in a daemon thread; returns the server (its port may be 0)."""
        handler = type("Handler", (_Handler,), {"viewer": self, "ingest_only": ingest_only})
        server = http.server.ThreadingHTTPServer((host, port), handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"autotrace-view-{port}",
                                  daemon=True)
        thread.start()
        self.servers.append(server)
        return server

    def stop(self):
        self.stopping.set()
        for server in self.servers:
            server.shutdown()
            server.server_close()

    # -- ingest ---------------------------------------------------------------------

    def ingest(self, rows):
        if rows:
            self.writer.write_rows([row for row, _ in rows], [pairs for _, pairs in rows])
        return len(rows)


class _Handler(http.server.BaseHTTPRequestHandler):
    viewer = None
    ingest_only = False
    protocol_version = "HTTP/1.1"
    server_version = "autotrace-view"

    def log_message(self, format, *args):  # quiet: the terminal shows the URL, not a log
        pass

    # -- dispatch -------------------------------------------------------------------

    def do_GET(self):
        self._handle("GET")

    def do_HEAD(self):
        self._handle("GET", head=True)

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._refuse_method()

    do_DELETE = do_PATCH = do_PUT

    def _refuse_method(self):
        self._send_error(HttpError(405, "the viewer API is read-only"))

    def _handle(self, method, head=False):
        self.head = head
        try:
            self._check_origin()
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query, keep_blank_values=False)
            path = url.path
            if method == "POST":
                if path == "/v1/traces":
                    return self._ingest()
                if path == "/api/import" and not self.ingest_only:
                    return self._import()
                raise HttpError(405 if not self.ingest_only else 404,
                                "only /v1/traces and /api/import accept POST")
            if self.ingest_only:
                raise HttpError(404, "this port only takes OTLP: POST /v1/traces")
            self._get(path, query)
        except HttpError as error:
            self._send_error(error)
        except queries.StoreError as error:
            self._send_error(HttpError(503, str(error)))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _check_origin(self):
        if not self.viewer.host_allowed(self.headers.get("Host")):
            self.close_connection = True
            raise HttpError(403, "the Host header is not a loopback name; start "
                                 "`autotrace view --host NAME` to serve other names")
        origin = self.headers.get("Origin")
        if origin is not None and not self.viewer.origin_allowed(origin, self.headers.get("Host")):
            raise HttpError(403, "requests from other web sites are refused")

    # -- GET --------------------------------------------------------------------------

    def _get(self, path, query):
        if path in _PAGES or path.startswith("/trace/"):
            return self._asset("index.html")
        if path.startswith("/static/"):
            return self._asset(path[len("/static/"):])
        if path == "/api/traces":
            return self._json(queries.list_traces(self.viewer.store, **self._filters(query)))
        if path.startswith("/api/traces/"):
            rest = path[len("/api/traces/"):]
            trace_id, _, extra = rest.partition("/")
            if extra == "otlp":
                return self._download(trace_id)
            if extra:
                raise HttpError(404, "no such API path")
            return self._send(200, self._trace(trace_id), "application/json")
        if path == "/api/services":
            since, until = self._window(query)
            return self._json(queries.services(self.viewer.store, since, until))
        if path == "/api/service-names":
            return self._json(queries.service_names(self.viewer.store))
        if path == "/api/service-map":
            since, until = self._window(query)
            # Entry-span figures only: the per-service span counts cost a pass over
            # every span, which the map does not show.
            return self._json(queries.map_summary(self.viewer.store, since, until))
        if path == "/api/operations":
            service = (query.get("service") or [""])[-1]
            return self._json(queries.operations(self.viewer.store, service) if service else [])
        if path == "/api/live":
            return self._live(query)
        raise HttpError(404, "not found")

    def _filters(self, query):
        try:
            return params.list_filters(query)
        except params.BadParameter as error:
            raise HttpError(400, str(error)) from None

    def _window(self, query):
        try:
            return params.window(query)
        except params.BadParameter as error:
            raise HttpError(400, str(error)) from None

    def _spans(self, trace_id):
        try:
            spans = queries.get_trace(self.viewer.store, trace_id)
        except queries.AmbiguousTraceId as error:
            raise HttpError(409, str(error)) from None
        except ValueError as error:
            raise HttpError(400, str(error)) from None
        if not spans:
            raise HttpError(404, f"no trace {trace_id} in the store")
        return spans

    def _trace(self, trace_id):
        """The trace page's answer as JSON bytes: summary, analysis, resources, spans.

        Spans are in the store's order; the analysis's rows refer to them by position.
        Each span's JSON comes whole from the store (queries.get_trace_columns), and a
        process's resource (the same on all its spans) is sent once, referred to by
        index from `resource_index`: Python touches only what the analysis needs.
        """
        try:
            full, trace = queries.get_trace_columns(self.viewer.store, trace_id)
        except queries.AmbiguousTraceId as error:
            raise HttpError(409, str(error)) from None
        except ValueError as error:
            raise HttpError(400, str(error)) from None
        if trace is None:
            raise HttpError(404, f"no trace {trace_id} in the store")
        index = {}
        resource_index = [index.setdefault(text, len(index)) for text in trace.resource]
        head = {"trace_id": full,
                "services": sorted(set(trace.service_name)),
                "error_count": trace.status_code.count("ERROR"),
                "analysis": analysis.analyze(trace),
                "resource_index": resource_index}
        resources = ",".join(_json_text(resource) for resource in index)
        return "".join((to_json(head)[:-1], ',"resources":[', resources, '],"spans":[',
                        trace.json, "]}")).encode()

    def _download(self, trace_id):
        spans = self._spans(trace_id)
        from .otlp import traces_data
        body = (json.dumps(traces_data(spans), separators=(",", ":")) + "\n").encode()
        self._send(200, body, "application/x-ndjson", {
            "Content-Disposition": f'attachment; filename="trace-{spans[0]["trace_id"]}.jsonl"'})

    def _asset(self, name):
        body = self.viewer.assets.get(name)  # exact names only: no paths, no traversal
        if body is None:
            raise HttpError(404, "not found")
        kind = _TYPES.get(name[name.rfind("."):], "application/octet-stream")
        self._send(200, body, kind, {"Cache-Control": "no-cache"})

    def _live(self, query):
        """Server-sent events: a `traces` event with the traces that got spans since the
        cursor (new ones, and older ones that grew), whenever there are some."""
        try:
            cursor = int((query.get("cursor") or ["-1"])[-1])
        except ValueError:
            raise HttpError(400, "cursor is not a number") from None
        store = self.viewer.store
        if cursor < 0:
            cursor, _ = queries.traces_after(store, None)
        self.close_connection = True
        self.send_response(200)
        self._common_headers()
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(f"event: hello\ndata: {json.dumps({'cursor': cursor})}\n\n".encode())
        self.wfile.flush()
        quiet_since = time.monotonic()
        while not self.viewer.stopping.wait(LIVE_POLL_S):
            last = cursor
            cursor, found = queries.traces_after(store, cursor)
            if found or cursor < last:  # news, or a store emptied: the list reloads
                data = json.dumps({"cursor": cursor, "traces": found})
                self.wfile.write(f"event: traces\ndata: {data}\n\n".encode())
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > LIVE_HEARTBEAT_S:
                self.wfile.write(b": still here\n\n")  # finds closed tabs
                quiet_since = time.monotonic()
            self.wfile.flush()

    # -- POST -------------------------------------------------------------------------

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise HttpError(411, "send a Content-Length")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise HttpError(411, "send a Content-Length") from None
        if length > MAX_BODY:
            self.close_connection = True  # the body is not read: the connection is spoilt
            raise HttpError(413, f"the body is {length} bytes; the limit is {MAX_BODY}")
        if length < 0:
            raise HttpError(400, "negative Content-Length")
        body = self.rfile.read(length)
        encoding = self.headers.get("Content-Encoding", "").lower().strip()
        if encoding in ("", "identity"):
            return body
        if encoding not in ("gzip", "deflate"):
            raise HttpError(415, f"unsupported Content-Encoding {encoding!r} (use gzip)")
        decompressor = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
        try:
            plain = decompressor.decompress(body, MAX_BODY + 1)
        except zlib.error as error:
            raise HttpError(400, f"the body is not valid {encoding} ({error})") from None
        if len(plain) > MAX_BODY:
            raise HttpError(413, f"the body expands beyond {MAX_BODY} bytes")
        return plain

    def _ingest(self):
        body = self._body()
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            try:
                document = json.loads(body)
            except (ValueError, UnicodeDecodeError) as error:
                raise HttpError(400, f"the body is not JSON ({error})") from None
            rows = self._decoded(rows_from_json, document)
            self._write(rows)
            return self._send(200, b"{}", "application/json")
        if kind in ("application/x-protobuf", "application/protobuf"):
            try:
                rows = self._decoded(rows_from_protobuf, body)
            except ImportError:
                raise HttpError(415, "OTLP protobuf needs opentelemetry-proto: "
                                     "pip install 'autotrace[viewer]', or send JSON") from None
            self._write(rows)
            return self._send(200, b"", "application/x-protobuf")
        raise HttpError(415, "Content-Type must be application/x-protobuf or application/json")

    def _import(self):
        body = self._body()
        try:
            rows = transfer.rows_from_text(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise HttpError(400, "the file is not UTF-8 text") from None
        except transfer.ImportFailed as error:
            raise HttpError(400, str(error)) from None
        self._write(rows)
        return self._json({"spans": len(rows)})

    def _decoded(self, decode, body):
        try:
            return decode(body)
        except OtlpError as error:
            raise HttpError(400, str(error)) from None

    def _write(self, rows):
        try:
            self.viewer.ingest(rows)
        except Exception as error:  # the store is full, locked for too long, unwritable
            raise HttpError(503, f"cannot write to the store ({error})") from None

    # -- responses --------------------------------------------------------------------

    def _common_headers(self):
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                         "script-src 'self'; connect-src 'self'; frame-ancestors 'none'")

    def _send(self, status, body, kind, headers=None):
        self.send_response(status)
        self._common_headers()
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not getattr(self, "head", False):
            self.wfile.write(body)

    def _json(self, value, status=200):
        body = json.dumps(value, separators=(",", ":"), default=str).encode()
        self._send(status, body, "application/json")

    def _send_error(self, error):
        self.close_connection = True  # a POST body may be unread: start afresh
        try:
            self._json({"error": error.reason}, status=error.status)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
