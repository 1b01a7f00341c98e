"""Settings from the environment: defaults, sources, and one warning per bad value."""

from autotrace.config import Settings


def test_defaults_and_sources():
    s = Settings.from_env({})
    assert s.enabled is True
    assert s.exporters == ("store",)
    assert s.propagators == ("tracecontext", "baggage")
    assert s.store_max_mb == 200
    assert s.shutdown_timeout == 2.0
    assert s.sources["store_max_mb"] == "default"
    assert s.problems == []


def test_otlp_endpoint_makes_otlp_the_default_exporter():
    s = Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert s.exporters == ("otlp",)
    assert s.sources["otlp_endpoint"] == "OTEL_EXPORTER_OTLP_ENDPOINT"
    explicit = Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "store,otlp"})
    assert explicit.exporters == ("store", "otlp")


def test_traces_specific_endpoint_wins():
    s = Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
                           "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/v1/traces"})
    assert s.otlp_endpoint == "http://b:4318/v1/traces"


def test_bad_flag_warns_naming_variable_and_accepted_values():
    s = Settings.from_env({"AUTOTRACE_INSTRUMENT_REDIS": "maybe", "AUTOTRACE_ENABLED": "sure"})
    assert s.enabled is True
    assert "redis" not in s.instrument_toggles
    assert len(s.problems) == 2
    assert any("AUTOTRACE_INSTRUMENT_REDIS='maybe'" in p and "true, false" in p for p in s.problems)
    assert any("AUTOTRACE_ENABLED='sure'" in p for p in s.problems)


def test_malformed_numbers_fall_back_to_defaults():
    s = Settings.from_env({"AUTOTRACE_STORE_MAX_MB": "lots", "AUTOTRACE_SHUTDOWN_TIMEOUT": "-1",
                           "OTEL_BSP_MAX_QUEUE_SIZE": "0"})
    assert (s.store_max_mb, s.shutdown_timeout, s.queue_size) == (200, 2.0, 2048)
    assert len(s.problems) == 3
    assert all("accepted:" in p for p in s.problems)
    assert s.sources["store_max_mb"].startswith("default (AUTOTRACE_STORE_MAX_MB was invalid")


def test_unknown_exporter_is_dropped_with_a_warning():
    s = Settings.from_env({"OTEL_TRACES_EXPORTER": "console,zipkin"})
    assert s.exporters == ("console",)
    assert len(s.problems) == 1 and "'zipkin'" in s.problems[0] and "store, otlp" in s.problems[0]
    only_bad = Settings.from_env({"OTEL_TRACES_EXPORTER": "zipkin"})
    assert only_bad.exporters == ("store",)
    none = Settings.from_env({"OTEL_TRACES_EXPORTER": "none"})
    assert none.exporters == ()


def test_toggles_and_disabled_lists():
    s = Settings.from_env({"AUTOTRACE_DISABLED_INSTRUMENTATIONS": "requests, Psycopg",
                           "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "sqlite3",
                           "AUTOTRACE_INSTRUMENT_REQUESTS": "true"})
    assert s.instrumentation_enabled("requests") == (True, "enabled by AUTOTRACE_INSTRUMENT_REQUESTS")
    enabled, reason = s.instrumentation_enabled("psycopg")
    assert not enabled and "AUTOTRACE_DISABLED_INSTRUMENTATIONS" in reason
    assert s.instrumentation_enabled("sqlite3")[0] is False
    star = Settings.from_env({"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "*"})
    assert star.instrumentation_enabled("anything")[0] is False


def test_unknown_instrumentation_names_warn():
    s = Settings.from_env({"AUTOTRACE_DISABLED_INSTRUMENTATIONS": "requests,reqeusts",
                           "AUTOTRACE_INSTRUMENT_FOO": "false"})
    s.warn_unknown_instrumentations(["requests", "psycopg"])
    assert len(s.problems) == 2
    assert "'reqeusts'" in s.problems[0] and "known: psycopg, requests" in s.problems[0]
    assert "AUTOTRACE_INSTRUMENT_FOO" in s.problems[1]


def test_resource_attributes_are_percent_decoded_and_bad_entries_warned():
    s = Settings.from_env({"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,team=a%2Cb,broken"})
    assert s.resource_attributes == {"deployment.environment": "prod", "team": "a,b"}
    assert len(s.problems) == 1 and "'broken'" in s.problems[0]


def test_protocol_choice():
    assert Settings.from_env({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}).otlp_protocol == "grpc"
    bad = Settings.from_env({"OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"})
    assert bad.otlp_protocol == "http/protobuf" and "grpc" in bad.problems[0]


def test_http_client_settings():
    s = Settings.from_env({
        "OTEL_PYTHON_EXCLUDED_URLS": "/health$, ^https://metrics\\.",
        "OTEL_PYTHON_HTTPX_EXCLUDED_URLS": "/skip",
        "OTEL_PYTHON_AIOHTTP_CLIENT_EXCLUDED_URLS": "/a,/b",
        "AUTOTRACE_PROPAGATE_TO": "*.Internal, localhost:8080",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST": "X-Request-Id,Accept",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE": "Content-Type",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS": "X-Session",
    })
    assert s.problems == []
    assert s.excluded_urls == ("/health$", "^https://metrics\\.")
    assert s.excluded_urls_by_library == {"httpx": ("/skip",), "aiohttp_client": ("/a", "/b")}
    assert s.propagate_to == {"*.internal", "localhost:8080"}
    assert s.capture_request_headers == {"x-request-id", "accept"}
    assert s.capture_response_headers == {"content-type"}
    assert s.sanitize_header_fields == {"x-session"}
    assert s.sources["excluded_urls_by_library"] == (
        "OTEL_PYTHON_AIOHTTP_CLIENT_EXCLUDED_URLS, OTEL_PYTHON_HTTPX_EXCLUDED_URLS")
    defaults = Settings.from_env({})
    assert (defaults.excluded_urls, defaults.excluded_urls_by_library, defaults.propagate_to) == ((), {}, set())


def test_a_bad_excluded_url_pattern_is_dropped_with_one_warning():
    s = Settings.from_env({"OTEL_PYTHON_EXCLUDED_URLS": "/ok,(unclosed", "OTEL_PYTHON_REQUESTS_EXCLUDED_URLS": "[x"})
    assert s.excluded_urls == ("/ok",)
    assert s.excluded_urls_by_library == {"requests": ()}
    assert len(s.problems) == 2
    assert "OTEL_PYTHON_EXCLUDED_URLS: '(unclosed' is not a valid regular expression" in s.problems[0]
    assert s.problems[1].startswith("OTEL_PYTHON_REQUESTS_EXCLUDED_URLS: '[x'")
