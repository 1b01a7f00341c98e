"""The `autotrace` command: run, doctor, path, traces, show, view, export, import.

`run` sits in front of the user's program, so it is parsed by hand and ends in
`execvp` without importing argparse or anything else: no wrapper process stays, and
the exit code and signals are the program's own.
"""

import os
import sys

__all__ = ["main", "sitecustomize_dir"]

RUN_USAGE = ("usage: autotrace run [--service-name NAME] [--exporter store|otlp|console|none] "
             "[--disable LIB,...] [--debug] COMMAND [ARGS...]")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "run":
        return run(argv[1:])
    return _other_commands(argv)


def sitecustomize_dir():
    """The folder holding autotrace's sitecustomize.py, in any kind of install."""
    here = os.path.dirname(os.path.abspath(__file__))
    # Installed: autotrace/sitecustomize/. From a checkout (editable): ../sitecustomize/.
    for candidate in (os.path.join(here, "sitecustomize"), os.path.join(os.path.dirname(here), "sitecustomize")):
        if os.path.isfile(os.path.join(candidate, "sitecustomize.py")):
            return candidate
    from importlib.util import find_spec
    spec = find_spec("autotrace.sitecustomize")
    locations = list(spec.submodule_search_locations or ()) if spec else []
    for location in locations:
        if os.path.isfile(os.path.join(location, "sitecustomize.py")):
            return os.path.abspath(location)
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "sitecustomize")


# -- run ------------------------------------------------------------------------------

_RUN_OPTIONS = {
    "--service-name": "OTEL_SERVICE_NAME",
    "--exporter": "OTEL_TRACES_EXPORTER",
    "--disable": "AUTOTRACE_DISABLED_INSTRUMENTATIONS",
}


def run(args):
    env = os.environ
    while args and args[0].startswith("-"):
        option, value, args = _take_option(args)
        if option in ("-h", "--help"):
            print(RUN_USAGE)
            return 0
        if option == "--debug":
            env["AUTOTRACE_DEBUG"] = "true"
        elif option == "--":
            break
        elif option in _RUN_OPTIONS and value is not None:
            variable = _RUN_OPTIONS[option]
            if option == "--disable" and env.get(variable):
                value = env[variable] + "," + value
            env[variable] = value
        else:
            sys.stderr.write("autotrace run: unknown or incomplete option %r\n%s\n" % (option, RUN_USAGE))
            return 2
    if not args:
        sys.stderr.write(RUN_USAGE + "\n")
        return 2
    env["PYTHONPATH"] = _with_first(sitecustomize_dir(), env.get("PYTHONPATH", ""))
    try:
        os.execvp(args[0], args)
    except FileNotFoundError:
        sys.stderr.write("autotrace: command not found: %s\n" % args[0])
        return 127
    except PermissionError:
        sys.stderr.write("autotrace: permission denied: %s\n" % args[0])
        return 126
    except OSError as exc:
        sys.stderr.write("autotrace: cannot run %s: %s\n" % (args[0], exc.strerror or exc))
        return 126


def _take_option(args):
    """(option, value, rest) for `--opt value`, `--opt=value` or a bare flag."""
    first = args[0]
    if first == "--" or first == "--debug" or first in ("-h", "--help"):
        return first, None, args[1:]
    if "=" in first:
        option, _, value = first.partition("=")
        return option, value, args[1:]
    if len(args) >= 2:
        return first, args[1], args[2:]
    return first, None, args[1:]


def _with_first(folder, pythonpath):
    """PYTHONPATH with `folder` first and only once (`autotrace run autotrace run` is harmless)."""
    rest = [p for p in pythonpath.split(os.pathsep)
            if p and os.path.abspath(p) != folder and not p.rstrip("/").endswith("/autotrace/sitecustomize")]
    return os.pathsep.join([folder] + rest)


# -- everything else ------------------------------------------------------------------

def _other_commands(argv):
    import argparse

    parser = argparse.ArgumentParser(prog="autotrace", description="Zero-code distributed tracing for Python.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run a command with tracing (autotrace run python app.py)")
    commands.add_parser("doctor", help="show the configuration and what is instrumented")
    commands.add_parser("path", help="print the folder to put on PYTHONPATH instead of using run")
    traces = commands.add_parser("traces", help="list recent traces from the local store")
    traces.add_argument("--service", help="only traces that touch this service")
    traces.add_argument("--errors", action="store_true", help="only traces with errors")
    traces.add_argument("--limit", type=int, default=20, help="how many traces (default 20)")
    traces.add_argument("--store", help="store file (default: AUTOTRACE_STORE or its default)")
    show = commands.add_parser("show", help="print one trace as a waterfall")
    show.add_argument("trace_id", help="the trace id (or a unique prefix of at least 8 characters)")
    show.add_argument("--store", help="store file (default: AUTOTRACE_STORE or its default)")
    commands.add_parser("version", help="print the version")
    from autotrace.viewer.command import add_arguments as add_viewer_commands
    add_viewer_commands(commands)

    options = parser.parse_args(argv)
    if options.command == "path":
        print(sitecustomize_dir())
        return 0
    if options.command == "version":
        from autotrace import __version__
        print("autotrace " + __version__)
        return 0
    if options.command == "doctor":
        from autotrace.doctor import print_report
        return print_report()
    if options.command in ("view", "export", "import"):
        from autotrace.viewer import command
        return {"view": command.view, "export": command.export,
                "import": command.import_file}[options.command](options)
    if options.command in ("traces", "show"):
        from autotrace.bootstrap import settings
        from autotrace.store import terminal
        path = options.store or settings().store_path
        if options.command == "traces":
            return terminal.print_traces(path, service=options.service, errors_only=options.errors,
                                         limit=options.limit)
        return terminal.print_trace(path, options.trace_id)
    parser.print_help()
    return 2
