"""Import and export files: OTLP JSON Lines (what the OpenTelemetry Collector's file
exporter writes and its otlpjsonfile receiver reads), a single OTLP JSON object, and
Jaeger's JSON export (the UI's "Download JSON" / the /api/traces answer).
"""

import json

from autotrace.store import queries
from autotrace.store.rows import clean_text, searchable_pairs, to_json

from .otlp import OtlpError, _make_row, rows_from_json, traces_data

__all__ = ["read_file_rows", "rows_from_text", "export_lines", "write_export", "ImportFailed"]


class ImportFailed(ValueError):
    """The file is in none of the formats we read; the message says what went wrong."""


def rows_from_text(text):
    """[(SpanRow, pairs)] from the text of an import file (any supported format)."""
    stripped = text.strip()
    if not stripped:
        return []
    try:
        document = json.loads(stripped)
    except ValueError:
        document = None  # several lines: JSON Lines
    if document is not None:
        return _rows_from_document(document, "the file")
    result = []
    for number, line in enumerate(stripped.splitlines(), 1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError as error:
            raise ImportFailed(f"line {number} is not JSON ({error})") from None
        result.extend(_rows_from_document(document, f"line {number}"))
    return result


def read_file_rows(path):
    with open(path, encoding="utf-8") as handle:
        return rows_from_text(handle.read())


def _rows_from_document(document, where):
    try:
        if isinstance(document, dict) and "data" in document and "resourceSpans" not in document:
            return rows_from_jaeger(document)
        return rows_from_json(document)
    except OtlpError as error:
        raise ImportFailed(f"{where}: {error}") from None


# -- Jaeger ----------------------------------------------------------------------

_JAEGER_KINDS = {"server": "SERVER", "client": "CLIENT", "producer": "PRODUCER",
                 "consumer": "CONSUMER", "internal": "INTERNAL"}


def rows_from_jaeger(document):
    """Rows from Jaeger's JSON: {"data": [{"traceID", "spans": [...], "processes": {...}}]}."""
    traces = document.get("data")
    if not isinstance(traces, list):
        raise OtlpError("Jaeger JSON: 'data' is not a list of traces")
    result = []
    for t_index, trace in enumerate(traces):
        where = f"data[{t_index}]"
        if not isinstance(trace, dict):
            raise OtlpError(f"{where}: expected an object")
        processes = trace.get("processes") or {}
        for index, span in enumerate(trace.get("spans") or []):
            result.append(_jaeger_span(span, processes, f"{where}.spans[{index}]"))
    return result


def _jaeger_id(value, length, where, required=True):
    if value in (None, ""):
        if required:
            raise OtlpError(f"{where}: missing")
        return None
    text = str(value).strip().lower()
    if not all(c in "0123456789abcdef" for c in text) or len(text) > length * 2:
        raise OtlpError(f"{where}: {value!r} is not a hex id")
    return text.rjust(length * 2, "0")   # Jaeger drops leading zeros


def _jaeger_span(span, processes, where):
    if not isinstance(span, dict):
        raise OtlpError(f"{where}: expected an object")
    process = processes.get(span.get("processID")) or span.get("process") or {}
    resource = {"service.name": process.get("serviceName") or "unknown_service"}
    resource.update(_jaeger_tags(process.get("tags"), where + ".process"))
    attributes = _jaeger_tags(span.get("tags"), where)
    kind = _JAEGER_KINDS.get(str(attributes.pop("span.kind", "")).lower(), "INTERNAL")
    status = "UNSET"
    if attributes.get("error") in (True, "true"):
        attributes.pop("error")
        status = "ERROR"
    message = attributes.pop("otel.status_description", None)
    if attributes.get("otel.status_code") in ("ERROR", "OK"):
        status = attributes.pop("otel.status_code")
    trace_id = _jaeger_id(span.get("traceID"), 16, where + ".traceID")
    parent, links = None, []
    for reference in span.get("references") or []:
        ref_trace = _jaeger_id(reference.get("traceID"), 16, where + ".references.traceID")
        ref_span = _jaeger_id(reference.get("spanID"), 8, where + ".references.spanID")
        if parent is None and reference.get("refType", "CHILD_OF") == "CHILD_OF" and ref_trace == trace_id:
            parent = ref_span
        else:
            links.append({"trace_id": ref_trace, "span_id": ref_span, "attributes": {}})
    try:
        start = int(span.get("startTime")) * 1000          # microseconds
        end = start + int(span.get("duration", 0)) * 1000
    except (TypeError, ValueError):
        raise OtlpError(f"{where}: startTime/duration are not integers") from None
    events = []
    for log in span.get("logs") or []:
        fields = _jaeger_tags(log.get("fields"), where + ".logs")
        events.append({"name": str(fields.pop("event", "log")),
                       "timestamp_ns": int(log.get("timestamp", 0)) * 1000, "attributes": fields})
    row = _make_row(trace_id, _jaeger_id(span.get("spanID"), 8, where + ".spanID"), parent,
                    clean_text(resource["service.name"]), str(span.get("operationName", "")), kind,
                    start, end, status, message, attributes, events, links, to_json(resource),
                    attributes.pop("otel.library.name", None), attributes.pop("otel.library.version", None))
    return row, searchable_pairs(attributes, resource)


def _jaeger_tags(tags, where):
    result = {}
    for tag in tags or []:
        if not isinstance(tag, dict) or "key" not in tag:
            raise OtlpError(f"{where}: a tag has no key")
        result[str(tag["key"])] = tag.get("value")
    return result


# -- export ----------------------------------------------------------------------

def export_lines(store, trace_id=None, since_ns=None):
    """OTLP JSON Lines text, one TracesData per trace, oldest trace first."""
    if trace_id:
        spans = queries.get_trace(store, trace_id)
        return (json.dumps(traces_data(spans), separators=(",", ":")) + "\n") if spans else ""
    summaries = queries.list_traces(store, limit=None, since_ns=since_ns)
    lines = []
    for summary in reversed(summaries):
        spans = queries.get_trace(store, summary["trace_id"])
        if spans:
            lines.append(json.dumps(traces_data(spans), separators=(",", ":")))
    return "".join(line + "\n" for line in lines)


def write_export(store, path, trace_id=None, since_ns=None):
    """Write the export to `path` ('-' for stdout). Returns the number of traces."""
    text = export_lines(store, trace_id, since_ns)
    if path == "-":
        import sys
        sys.stdout.write(text)
    else:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    return text.count("\n")
