"""`autotrace doctor`: what autotrace would do in this environment, and why.

Prints the version, every setting with the variable it came from, every known
instrumentation with its status, and where spans go (and whether that place can be
reached or written). Exits 1 when the configuration has problems.
"""

import os
import sys

__all__ = ["print_report"]


def print_report(out=None):
    from autotrace import __version__
    from autotrace.config import Settings
    from autotrace.registry import Registry

    out = out or sys.stdout
    settings = Settings.from_env()
    registry = Registry(settings)
    write = lambda line="": out.write(line + "\n")

    write("autotrace %s (Python %s, %s)" % (__version__, sys.version.split()[0], sys.executable))
    write()
    write("Configuration")
    rows = settings.describe()
    width = max([26] + [len(field) for field, _, _ in rows])
    for field, value, source in rows:
        write("  %-*s %-40s %s" % (width, field, _show(value), "from " + source if source != "default" else "default"))
    write()
    write("Propagators: %s" % _propagators(settings))
    write()
    write("Instrumentations")
    statuses = registry.statuses()
    name_width = max([12] + [len(status.name) for status in statuses])
    for status in statuses:
        version = status.version or "-"
        write("  %-*s %-20s %-12s %-14s %s" % (name_width, status.name, status.state, version, status.supported or "any",
                                                status.detail))
    write()
    write("Exporters")
    from autotrace.exporters import describe_target
    if not settings.exporters:
        write("  none: spans are not exported")
    for name in settings.exporters:
        ok, detail = _check_target(settings, name)
        write("  %-8s %s  [%s]" % (name, describe_target(settings, name), detail))
        if not ok:
            settings.problems.append("%s exporter: %s" % (name, detail))
    write()
    if settings.problems:
        write("Problems")
        for problem in settings.problems:
            write("  - " + problem)
        return 1
    write("No problems found.")
    return 0


def _propagators(settings):
    """The active propagators and the headers they read and write, from OTEL_PROPAGATORS."""
    if not settings.propagators:
        return "none: no trace context is sent or received"
    try:
        from autotrace.propagation import build_propagator
        headers = sorted(build_propagator(settings.propagators).fields)
    except Exception as exc:
        return "%s (cannot be built: %s)" % (", ".join(settings.propagators), exc)
    return "%s (headers: %s)" % (", ".join(settings.propagators), ", ".join(headers))


def _show(value):
    if isinstance(value, (set, frozenset)):
        return ",".join(sorted(value)) or "(none)"
    if isinstance(value, tuple):
        return ",".join(value) or "(none)"
    if isinstance(value, dict) and any(isinstance(v, tuple) for v in value.values()):
        return " ".join("%s=%s" % (k, ",".join(v)) for k, v in sorted(value.items())) or "(none)"
    if isinstance(value, dict):
        return ",".join("%s=%s" % item for item in sorted(value.items())) or "(none)"
    return str(value) if value != "" else "(not set)"


def _check_target(settings, name):
    if name == "store":
        return _writable(settings.store_path)
    if name == "otlp":
        from autotrace.exporters import otlp_available
        if not otlp_available(settings):
            return False, "exporter not installed: pip install 'autotrace[otlp]'"
        return _reachable(settings)
    return True, "ok"


def _writable(path):
    folder = os.path.dirname(os.path.abspath(path)) or "."
    probe = folder
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        return False, "not writable: %s is not a directory" % probe
    if not os.access(probe, os.W_OK):
        return False, "not writable: no permission on %s" % probe
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return False, "not writable: no permission on %s" % path
    return True, "writable"


def _reachable(settings):
    import socket
    from urllib.parse import urlsplit

    default = "http://localhost:4318" if settings.otlp_protocol == "http/protobuf" else "http://localhost:4317"
    parts = urlsplit(settings.otlp_endpoint or default)
    if not parts.hostname:
        return False, "endpoint %r has no host" % (settings.otlp_endpoint,)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=2).close()
    except OSError as exc:
        return False, "unreachable: %s:%s (%s)" % (parts.hostname, port, exc.strerror or exc)
    return True, "reachable"
