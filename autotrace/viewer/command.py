"""The `autotrace view`, `autotrace export` and `autotrace import` commands."""

import os
import sys
import time
import webbrowser

from autotrace.store.writer import StoreExporter

from . import params, transfer
from .server import DEFAULT_PORT, OTLP_PORT, Viewer

__all__ = ["add_arguments", "view", "export", "import_file"]


def add_arguments(commands):
    """Add the three sub-commands to the `autotrace` argparse sub-parsers."""
    view_parser = commands.add_parser("view", help="browse the local store in a web page; "
                                                   "receives OTLP/HTTP traces while it runs")
    view_parser.add_argument("--store", help="store file (default: AUTOTRACE_STORE or its default)")
    view_parser.add_argument("--host", default="127.0.0.1",
                             help="address to listen on (default 127.0.0.1: this machine only)")
    view_parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                             help=f"port of the web page and API (default {DEFAULT_PORT})")
    view_parser.add_argument("--otlp-port", type=int, default=OTLP_PORT,
                             help=f"also take OTLP/HTTP on this port (default {OTLP_PORT}; -1: off)")
    view_parser.add_argument("--open", action="store_true", help="open the page in a browser")
    export_parser = commands.add_parser("export", help="write traces as OTLP JSON Lines")
    export_parser.add_argument("file", help="output file ('-' for standard output)")
    export_parser.add_argument("--trace", help="only this trace (id or unique prefix)")
    export_parser.add_argument("--since", help="only traces that started since (15m, 2h, 7d, ISO date)")
    export_parser.add_argument("--store", help="store file (default: AUTOTRACE_STORE or its default)")
    import_parser = commands.add_parser(
        "import", help="add traces from OTLP JSON (Lines) or a Jaeger JSON export to the store")
    import_parser.add_argument("file", help="file to read")
    import_parser.add_argument("--store", help="store file (default: AUTOTRACE_STORE or its default)")


def _store(options):
    from autotrace.bootstrap import settings
    return options.store or settings().store_path, settings().store_max_mb


def view(options):
    path, max_mb = _store(options)
    writer = StoreExporter(path, max_mb=max_mb)
    try:
        if os.path.isfile(path):
            writer.prepare()  # an older store's layout is upgraded before it is read
    except Exception as error:  # read-only file, not a store: the pages say why
        print(f"autotrace view: cannot prepare the store {path} ({error})", file=sys.stderr, flush=True)
    viewer = Viewer(path, writer, host=options.host)
    try:
        ui = viewer.serve(options.host, options.port)
    except OSError as error:
        print(f"autotrace view: cannot listen on {options.host}:{options.port} ({error.strerror or error}); "
              "choose another with --port", file=sys.stderr)
        return 1
    # From here on Ctrl-C stops the viewer quietly, even before it starts waiting.
    try:
        port = ui.server_address[1]
        host = options.host if options.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
        print(f"autotrace view: {url}  (store {path})", flush=True)
        print(f"autotrace view: OTLP/HTTP traces are taken at {url}v1/traces", flush=True)
        if options.otlp_port >= 0 and options.otlp_port != port:
            try:
                otlp = viewer.serve(options.host, options.otlp_port, ingest_only=True)
                print(f"autotrace view: and at http://{host}:{otlp.server_address[1]}/v1/traces "
                      "(the OTLP/HTTP default endpoint)", flush=True)
            except OSError as error:
                print(f"autotrace view: port {options.otlp_port} is taken ({error.strerror or error}); "
                      "OTLP is taken on the viewer's port only", file=sys.stderr, flush=True)
        if options.open:
            webbrowser.open(url)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        viewer.stop()
        writer.shutdown()
    return 0


def export(options):
    path, _ = _store(options)
    try:
        since = params.parse_time(options.since) if options.since else None
        count = transfer.write_export(path, options.file, options.trace, since)
    except (ValueError, OSError) as error:
        print(f"autotrace export: {error}", file=sys.stderr)
        return 1
    if options.file != "-":
        print(f"autotrace export: {count} trace(s) written to {options.file}")
    return 0 if count or not options.trace else 1


def import_file(options):
    path, max_mb = _store(options)
    try:
        rows = transfer.read_file_rows(options.file)
    except (ValueError, OSError) as error:
        print(f"autotrace import: {options.file}: {error}", file=sys.stderr)
        return 1
    writer = StoreExporter(path, max_mb=max_mb)
    try:
        writer.write_rows([row for row, _ in rows], [pairs for _, pairs in rows])
    except Exception as error:
        print(f"autotrace import: cannot write to {path} ({error})", file=sys.stderr)
        return 1
    finally:
        writer.shutdown()
    traces = len({row.trace_id for row, _ in rows})
    print(f"autotrace import: {len(rows)} span(s) in {traces} trace(s) added to {path}")
    return 0
