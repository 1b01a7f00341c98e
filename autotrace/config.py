"""Settings: the one reader of AUTOTRACE_* and OTEL_* variables.

`Settings.from_env()` turns the environment into plain values, remembers where each
came from (the variable, or "default") for `autotrace doctor`, and collects one
warning line per bad value instead of raising: a bad value falls back to its default
and the app runs.

This module is imported at interpreter startup, so it imports nothing heavy (no `re`,
no `dataclasses`, no `logging`): parsing is plain string work.
"""

import os

__all__ = ["Settings", "TRUE_WORDS", "FALSE_WORDS"]

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")
EXPORTERS = ("store", "otlp", "console", "none")
OTLP_PROTOCOLS = ("http/protobuf", "grpc")
PROPAGATORS = ("tracecontext", "baggage", "b3", "b3multi", "jaeger", "none")
DEFAULT_PROPAGATORS = ("tracecontext", "baggage")
INSTRUMENT_PREFIX = "AUTOTRACE_INSTRUMENT_"
DISABLED_VARS = ("AUTOTRACE_DISABLED_INSTRUMENTATIONS", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS")
SAMPLERS = ("parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
            "always_on", "always_off", "traceidratio")
LOG_LEVELS = ("off", "debug", "info", "warning", "error", "critical")
_HEX = frozenset("0123456789abcdef")


class Settings:
    """Effective configuration of one process. Built once; treat as read-only."""

    def __init__(self):
        self.sources = {}     # field name -> env var it came from, or "default"
        self.problems = []    # one-line warnings about bad values

    # -- construction ---------------------------------------------------------------

    @classmethod
    def from_env(cls, environ=None):
        env = os.environ if environ is None else environ
        self = cls()
        read = _Reader(env, self)
        self.enabled = read.flag("enabled", "AUTOTRACE_ENABLED", True)
        self.debug = read.flag("debug", "AUTOTRACE_DEBUG", False)
        self.service_name = read.text("service_name", "OTEL_SERVICE_NAME", "")
        self.resource_attributes = read.pairs("resource_attributes", "OTEL_RESOURCE_ATTRIBUTES")
        self.disabled_instrumentations = read.names_union("disabled_instrumentations", DISABLED_VARS)
        self.instrument_toggles = read.prefixed_flags("instrument_toggles", INSTRUMENT_PREFIX)
        self.otlp_endpoint = read.text(
            "otlp_endpoint", ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"), "")
        self.otlp_protocol = read.choice(
            "otlp_protocol", ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
            OTLP_PROTOCOLS, "http/protobuf")
        default_exporters = ("otlp",) if self.otlp_endpoint else ("store",)
        self.exporters = read.choices("exporters", "OTEL_TRACES_EXPORTER", EXPORTERS, default_exporters)
        self.propagators = read.choices("propagators", "OTEL_PROPAGATORS", PROPAGATORS, DEFAULT_PROPAGATORS)
        self.store_path = read.text("store_path", "AUTOTRACE_STORE", _default_store_path(env))
        self.store_max_mb = read.number("store_max_mb", "AUTOTRACE_STORE_MAX_MB", 200, minimum=1)
        self.shutdown_timeout = read.number(
            "shutdown_timeout", "AUTOTRACE_SHUTDOWN_TIMEOUT", 2.0, minimum=0.0, kind=float)
        self.queue_size = read.number("queue_size", "OTEL_BSP_MAX_QUEUE_SIZE", 2048, minimum=1)
        self.batch_size = read.number("batch_size", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, minimum=1)
        self.schedule_delay_ms = read.number("schedule_delay_ms", "OTEL_BSP_SCHEDULE_DELAY", 1000, minimum=0)
        self.redact_query_params = read.names_union("redact_query_params", ("AUTOTRACE_REDACT_QUERY_PARAMS",),
                                                    lower=False)
        self.db_query_max = read.number("db_query_max", "AUTOTRACE_DB_QUERY_MAX", 2048, minimum=16)
        self.db_sanitize = read.flag("db_sanitize", "AUTOTRACE_DB_SANITIZE", True)
        # HTTP clients: which URLs get no span, which hosts get trace headers, which headers are recorded
        self.excluded_urls = read.regexes("excluded_urls", "OTEL_PYTHON_EXCLUDED_URLS")
        self.excluded_urls_by_library = read.library_regexes("excluded_urls_by_library", "OTEL_PYTHON_",
                                                             "_EXCLUDED_URLS")
        self.propagate_to = read.names_union("propagate_to", ("AUTOTRACE_PROPAGATE_TO",))
        self.capture_request_headers = read.names_union(
            "capture_request_headers", ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST",))
        self.capture_response_headers = read.names_union(
            "capture_response_headers", ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE",))
        self.sanitize_header_fields = read.names_union(
            "sanitize_header_fields", ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS",))
        self.sqlcommenter = read.flag("sqlcommenter", "AUTOTRACE_SQLCOMMENTER", False)
        _read_server(self, read)
        _read_sampling(self, read)
        _read_span_limits(self, read)
        _read_logs(self, read)
        _read_env_context(self, read, env)
        return self

    # -- questions the core asks ----------------------------------------------------

    def instrumentation_enabled(self, name):
        """(enabled, reason): reason names the variable that decided, for doctor."""
        toggle = self.instrument_toggles.get(name)
        if toggle is not None:
            var = INSTRUMENT_PREFIX + name.upper()
            return toggle, ("enabled by %s" % var) if toggle else ("disabled by %s" % var)
        disabled = self.disabled_instrumentations
        if name in disabled or "*" in disabled:
            return False, "disabled by %s" % self.sources.get("disabled_instrumentations", "default")
        return True, "enabled"

    def warn_unknown_instrumentations(self, known):
        """Add a warning for every instrumentation name the user gave that does not exist."""
        known = set(known)
        accepted = ", ".join(sorted(known))
        for name in sorted(self.disabled_instrumentations - known - {"*"}):
            self.problems.append(
                "%s names unknown instrumentation %r (known: %s); ignored"
                % (self.sources.get("disabled_instrumentations"), name, accepted))
        for name in sorted(set(self.instrument_toggles) - known):
            self.problems.append(
                "%s%s: no instrumentation named %r (known: %s); ignored"
                % (INSTRUMENT_PREFIX, name.upper(), name, accepted))

    def describe(self):
        """[(field, value, source)] for doctor, in declaration order."""
        return [(field, getattr(self, field), source) for field, source in self.sources.items()]


class _Reader:
    """Parses one kind of value each; records sources and problems on the settings."""

    def __init__(self, env, settings):
        self.env = env
        self.settings = settings

    def _lookup(self, field, names):
        if isinstance(names, str):
            names = (names,)
        for name in names:
            raw = self.env.get(name)
            if raw is not None and raw.strip() != "":
                self.settings.sources[field] = name
                return name, raw.strip()
        self.settings.sources[field] = "default"
        return None, None

    def _reject(self, field, var, raw, accepted, default):
        self.settings.problems.append(
            "%s=%r is not valid (accepted: %s); using the default %s" % (var, raw, accepted, _show(default)))
        self.settings.sources[field] = "default (%s was invalid)" % var
        return default

    def text(self, field, names, default):
        var, raw = self._lookup(field, names)
        return default if var is None else raw

    def flag(self, field, names, default):
        var, raw = self._lookup(field, names)
        if var is None:
            return default
        value = _parse_flag(raw)
        if value is None:
            return self._reject(field, var, raw, "true, false", default)
        return value

    def number(self, field, names, default, minimum, kind=int, maximum=None):
        var, raw = self._lookup(field, names)
        if var is None:
            return default
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or value != value or value < minimum or (maximum is not None and value > maximum):
            what = "an integer" if kind is int else "a number"
            bounds = "%s >= %s" % (what, minimum) + ("" if maximum is None else " and <= %s" % maximum)
            return self._reject(field, var, raw, bounds, default)
        return value

    def choice(self, field, names, accepted, default):
        var, raw = self._lookup(field, names)
        if var is None:
            return default
        if raw.lower() not in accepted:
            return self._reject(field, var, raw, ", ".join(accepted), default)
        return raw.lower()

    def choices(self, field, names, accepted, default):
        """A comma list of names from `accepted`; unknown names are dropped with a warning."""
        var, raw = self._lookup(field, names)
        if var is None:
            return default
        picked, unknown = [], []
        for item in _split_list(raw.lower()):
            (picked if item in accepted else unknown).append(item)
        if unknown:
            self.settings.problems.append("%s: unknown value(s) %s (accepted: %s); ignored"
                                          % (var, ", ".join(repr(u) for u in unknown), ", ".join(accepted)))
        if not picked:
            return self._reject(field, var, raw, ", ".join(accepted), default)
        if "none" in picked:
            return ()
        return tuple(dict.fromkeys(picked))

    def names_union(self, field, names, lower=True):
        """A set of comma-separated names gathered from every variable in `names`."""
        found, used = set(), []
        for name in names:
            raw = self.env.get(name, "")
            items = _split_list(raw.lower() if lower else raw)
            if items:
                found.update(items)
                used.append(name)
        self.settings.sources[field] = " + ".join(used) if used else "default"
        return found

    def prefixed_flags(self, field, prefix):
        """AUTOTRACE_INSTRUMENT_<NAME>=true|false for any NAME -> {name: bool}."""
        toggles, used = {}, []
        for var in sorted(self.env):
            if not var.startswith(prefix) or len(var) == len(prefix):
                continue
            raw = self.env[var].strip()
            value = _parse_flag(raw)
            if value is None:
                self.settings.problems.append(
                    "%s=%r is not valid (accepted: true, false); using the default" % (var, raw))
                continue
            toggles[var[len(prefix):].lower()] = value
            used.append(var)
        self.settings.sources[field] = ", ".join(used) if used else "default"
        return toggles

    def regexes(self, field, names):
        """A comma list of regular expressions (kept as text); a pattern that does not
        compile is dropped with a warning. `re` is imported only when the variable is set."""
        var, raw = self._lookup(field, names)
        if var is None:
            return ()
        return self._valid_patterns(var, raw)

    def library_regexes(self, field, prefix, suffix):
        """PREFIX<LIB>SUFFIX=regex,regex for any LIB -> {lib (lowercase): (regex, ...)}."""
        found, used = {}, []
        for var in sorted(self.env):
            if not (var.startswith(prefix) and var.endswith(suffix)) or len(var) <= len(prefix) + len(suffix):
                continue
            raw = self.env[var].strip()
            if raw:
                found[var[len(prefix):-len(suffix)].lower()] = self._valid_patterns(var, raw)
                used.append(var)
        self.settings.sources[field] = ", ".join(used) if used else "default"
        return found

    def _valid_patterns(self, var, raw):
        import re
        kept = []
        for pattern in _split_list(raw):
            try:
                re.compile(pattern)
            except re.error as exc:
                self.settings.problems.append(
                    "%s: %r is not a valid regular expression (%s); ignored" % (var, pattern, exc))
                continue
            kept.append(pattern)
        return tuple(kept)

    def pairs(self, field, names):
        """OTEL_RESOURCE_ATTRIBUTES: k=v,k2=v2 with percent-encoded values."""
        var, raw = self._lookup(field, names)
        if var is None:
            return {}
        result = {}
        for item in raw.split(","):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key:
                self.settings.problems.append("%s: entry %r is not key=value; ignored" % (var, item.strip()))
                continue
            result[key] = _percent_decode(value.strip())
        return result


def _read_server(settings, read):
    """HTTP servers: recorded headers, public endpoints, the traceresponse header."""
    settings.capture_server_request_headers = read.names_union(
        "capture_server_request_headers", ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST",))
    settings.capture_server_response_headers = read.names_union(
        "capture_server_response_headers", ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE",))
    settings.public_endpoint = read.flag("public_endpoint", "AUTOTRACE_PUBLIC_ENDPOINT", False)
    settings.traceresponse = read.flag("traceresponse", "AUTOTRACE_TRACERESPONSE", False)


def _read_sampling(settings, read):
    settings.traces_sampler = read.choice(
        "traces_sampler", "OTEL_TRACES_SAMPLER", SAMPLERS, "parentbased_always_on")
    settings.traces_sampler_arg = 1.0
    if settings.traces_sampler.endswith("traceidratio"):
        # The argument means something only to the ratio samplers (as in the OTel spec).
        settings.traces_sampler_arg = read.number(
            "traces_sampler_arg", "OTEL_TRACES_SAMPLER_ARG", 1.0, minimum=0.0, maximum=1.0, kind=float)
    # None: no cap. A number: new root traces kept per second, per process.
    settings.traces_per_second = read.number(
        "traces_per_second", "AUTOTRACE_TRACES_PER_SECOND", None, minimum=0.0, kind=float)


def _read_span_limits(settings, read):
    """The standard limits; a specific variable wins over OTEL_ATTRIBUTE_*. None = no limit."""
    count = "OTEL_ATTRIBUTE_COUNT_LIMIT"
    length = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"
    settings.attribute_count_limit = read.number("attribute_count_limit", count, 128, minimum=0)
    settings.span_attribute_count_limit = read.number(
        "span_attribute_count_limit", ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", count), 128, minimum=0)
    settings.span_event_count_limit = read.number(
        "span_event_count_limit", "OTEL_SPAN_EVENT_COUNT_LIMIT", 128, minimum=0)
    settings.span_link_count_limit = read.number(
        "span_link_count_limit", "OTEL_SPAN_LINK_COUNT_LIMIT", 128, minimum=0)
    settings.event_attribute_count_limit = read.number(
        "event_attribute_count_limit", ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", count), 128, minimum=0)
    settings.link_attribute_count_limit = read.number(
        "link_attribute_count_limit", ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", count), 128, minimum=0)
    settings.attribute_value_length_limit = read.number(
        "attribute_value_length_limit", length, None, minimum=0)
    settings.span_attribute_value_length_limit = read.number(
        "span_attribute_value_length_limit", ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", length), None, minimum=0)


def _read_logs(settings, read):
    settings.log_correlation = read.flag("log_correlation", "AUTOTRACE_LOG_CORRELATION", False)
    settings.logs_as_events = read.choice("logs_as_events", "AUTOTRACE_LOGS_AS_EVENTS", LOG_LEVELS, "off")


def _read_env_context(settings, read, env):
    """TRACEPARENT / TRACESTATE / BAGGAGE: the context a parent process handed us.

    Only checked here (plain string work); the context itself is built when tracing
    starts. A malformed traceparent is dropped with one warning: the process starts
    new traces. TRACESTATE means nothing without a traceparent."""
    traceparent = read.text("env_traceparent", "TRACEPARENT", "")
    if traceparent and not _looks_like_traceparent(traceparent):
        settings.problems.append(
            "TRACEPARENT=%r is not valid (accepted: a W3C traceparent such as "
            "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>); starting a new trace" % traceparent)
        settings.sources["env_traceparent"] = "default (TRACEPARENT was invalid)"
        traceparent = ""
    settings.env_traceparent = traceparent
    settings.env_tracestate = read.text("env_tracestate", "TRACESTATE", "") if traceparent else ""
    settings.env_baggage = read.text("env_baggage", "BAGGAGE", "")


def _looks_like_traceparent(value):
    """The W3C traceparent grammar, checked without `re` (startup must stay cheap)."""
    parts = value.split("-")
    if len(parts) < 4:
        return False
    version, trace_id, span_id, flags = parts[:4]
    if len(version) != 2 or version == "ff" or (version == "00" and len(parts) != 4):
        return False
    if len(trace_id) != 32 or len(span_id) != 16 or len(flags) != 2:
        return False
    if not _HEX.issuperset(version + trace_id + span_id + flags):
        return False
    return trace_id.strip("0") != "" and span_id.strip("0") != ""


def _parse_flag(raw):
    low = raw.strip().lower()
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    return None


def _split_list(raw):
    return [item.strip() for item in raw.split(",") if item.strip()]


def _percent_decode(value):
    if "%" not in value:
        return value
    from urllib.parse import unquote  # only when needed: urllib.parse is not free at startup
    return unquote(value)


def _show(value):
    if isinstance(value, tuple):
        return ",".join(value) or "none"
    return repr(value) if isinstance(value, str) else str(value)


def _default_store_path(env):
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "autotrace", "traces.db")
