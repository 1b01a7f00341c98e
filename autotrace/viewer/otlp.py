"""OTLP traces in and out: OTLP/JSON and OTLP/protobuf requests to store rows, and
stored spans back to OTLP/JSON `TracesData` (the OpenTelemetry Collector's file format).

Decoding checks everything before anything is written: a request with one bad span is
refused as a whole with a reason naming where the problem is (OtlpError), so the
store never holds half a request.
"""

import base64
import binascii
import json

from autotrace.store.rows import (SpanRow, UNKNOWN_SERVICE, _searchable, clean_text,
                                  searchable_pairs, to_json)

__all__ = ["OtlpError", "rows_from_json", "rows_from_protobuf", "traces_data", "KINDS", "STATUSES"]

# OTLP enum numbers -> the names the store uses.
KINDS = {0: "INTERNAL", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUSES = {0: "UNSET", 1: "OK", 2: "ERROR"}
_KIND_NUMBERS = {name: number for number, name in KINDS.items() if number}
_STATUS_NUMBERS = {name: number for number, name in STATUSES.items()}
_HEX = frozenset("0123456789abcdef")


class OtlpError(ValueError):
    """The request is not valid OTLP; the message says where and why."""


# -- decoding: common ------------------------------------------------------------

def _hex_id(value, length, where, required=True):
    """A lower-case hex id of `length` bytes from hex text, base64 text or bytes."""
    if value in (None, "", b""):
        if required:
            raise OtlpError(f"{where}: missing")
        return None
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if len(text) == length * 2 and set(text) <= _HEX:
            raw = bytes.fromhex(text)
        else:
            try:  # the protobuf JSON mapping (and some older SDKs) write ids as base64
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise OtlpError(f"{where}: {value!r} is not a {length}-byte id in hex") from None
    else:
        raise OtlpError(f"{where}: expected a hex string, got {type(value).__name__}")
    if len(raw) != length:
        raise OtlpError(f"{where}: expected {length} bytes, got {len(raw)}")
    if not any(raw):
        if required:
            raise OtlpError(f"{where}: an all-zero id is invalid")
        return None
    return raw.hex()


def _make_row(trace_id, span_id, parent, service, name, kind, start, end, status_code,
              status_message, attributes, events, links, resource_json, scope_name,
              scope_version):
    end = max(end, start)  # clock steps: never a negative duration
    return SpanRow(
        trace_id=trace_id, span_id=span_id, parent_span_id=parent, service_name=service,
        name=clean_text(name) or "(unnamed)", kind=kind, start_ns=start, end_ns=end,
        duration_ns=end - start, status_code=status_code,
        status_message=clean_text(status_message) if status_message else None,
        attributes=to_json(attributes) if attributes else "{}",
        events=to_json(events) if events else "[]",
        links=to_json(links) if links else "[]",
        resource=resource_json,
        scope_name=clean_text(scope_name) if scope_name else None,
        scope_version=clean_text(scope_version) if scope_version else None)


def _service_of(resource_attributes):
    name = resource_attributes.get("service.name")
    return clean_text(name) if isinstance(name, str) and name else UNKNOWN_SERVICE


# -- decoding: JSON --------------------------------------------------------------

def rows_from_json(document):
    """[(SpanRow, searchable pairs)] from a parsed OTLP/JSON ExportTraceServiceRequest
    (or TracesData: same shape). Raises OtlpError."""
    if not isinstance(document, dict):
        raise OtlpError("the body is not a JSON object")
    resource_spans = document.get("resourceSpans", document.get("resource_spans"))
    if resource_spans is None:
        raise OtlpError("no resourceSpans in the JSON object")
    if not isinstance(resource_spans, list):
        raise OtlpError("resourceSpans is not a list")
    result = []
    for r_index, entry in enumerate(resource_spans):
        where = f"resourceSpans[{r_index}]"
        _expect_dict(entry, where)
        resource = _json_attributes((entry.get("resource") or {}).get("attributes"), where + ".resource")
        resource_json = to_json(resource)
        service = _service_of(resource)
        for s_index, scope_spans in enumerate(_list(entry, ("scopeSpans", "scope_spans",
                                                            "instrumentationLibrarySpans"), where)):
            s_where = f"{where}.scopeSpans[{s_index}]"
            _expect_dict(scope_spans, s_where)
            scope = scope_spans.get("scope") or scope_spans.get("instrumentationLibrary") or {}
            for index, span in enumerate(_list(scope_spans, ("spans",), s_where)):
                span_where = f"{s_where}.spans[{index}]"
                _expect_dict(span, span_where)
                row = _json_span(span, span_where, service, resource_json, scope)
                result.append((row, searchable_pairs(json.loads(row.attributes), resource)))
    return result


def _json_span(span, where, service, resource_json, scope):
    trace_id = _hex_id(span.get("traceId", span.get("trace_id")), 16, where + ".traceId")
    span_id = _hex_id(span.get("spanId", span.get("span_id")), 8, where + ".spanId")
    parent = _hex_id(span.get("parentSpanId", span.get("parent_span_id")), 8,
                     where + ".parentSpanId", required=False)
    start = _json_int(span.get("startTimeUnixNano", span.get("start_time_unix_nano")),
                      where + ".startTimeUnixNano")
    end = _json_int(span.get("endTimeUnixNano", span.get("end_time_unix_nano")),
                    where + ".endTimeUnixNano")
    status = span.get("status") or {}
    _expect_dict(status, where + ".status")
    events = []
    for e_index, event in enumerate(span.get("events") or []):
        e_where = f"{where}.events[{e_index}]"
        _expect_dict(event, e_where)
        events.append({"name": str(event.get("name", "")),
                       "timestamp_ns": _json_int(event.get("timeUnixNano", 0), e_where + ".timeUnixNano"),
                       "attributes": _json_attributes(event.get("attributes"), e_where)})
    links = []
    for l_index, link in enumerate(span.get("links") or []):
        l_where = f"{where}.links[{l_index}]"
        _expect_dict(link, l_where)
        links.append({"trace_id": _hex_id(link.get("traceId"), 16, l_where + ".traceId"),
                      "span_id": _hex_id(link.get("spanId"), 8, l_where + ".spanId"),
                      "attributes": _json_attributes(link.get("attributes"), l_where)})
    return _make_row(
        trace_id, span_id, parent, service, str(span.get("name", "")),
        _enum(span.get("kind", 0), KINDS, "SPAN_KIND_", where + ".kind"), start, end,
        _enum(status.get("code", 0), STATUSES, "STATUS_CODE_", where + ".status.code"),
        status.get("message"), _json_attributes(span.get("attributes"), where), events,
        links, resource_json, scope.get("name"), scope.get("version"))


def _expect_dict(value, where):
    if not isinstance(value, dict):
        raise OtlpError(f"{where}: expected an object")


def _list(parent, names, where):
    for name in names:
        if name in parent:
            value = parent[name]
            if value is None:
                return []
            if not isinstance(value, list):
                raise OtlpError(f"{where}.{name}: expected a list")
            return value
    return []


def _json_int(value, where):
    if value is None:
        raise OtlpError(f"{where}: missing")
    if isinstance(value, bool):
        raise OtlpError(f"{where}: expected an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise OtlpError(f"{where}: {value!r} is not an integer") from None
    if number < 0:
        raise OtlpError(f"{where}: negative")
    return number


def _enum(value, names, prefix, where):
    if isinstance(value, str):
        name = value.upper().removeprefix(prefix)
        if name == "UNSPECIFIED":
            return names[0]
        if name in names.values():
            return name
        raise OtlpError(f"{where}: unknown value {value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and value in names:
        return names[value]
    raise OtlpError(f"{where}: unknown value {value!r}")


def _json_attributes(items, where):
    if items is None:
        return {}
    if not isinstance(items, list):
        raise OtlpError(f"{where}.attributes: expected a list of key/value objects")
    result = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise OtlpError(f"{where}.attributes: an entry has no string key")
        result[item["key"]] = _json_value(item.get("value"), f"{where}.attributes[{item['key']!r}]")
    return result


def _json_value(value, where):
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise OtlpError(f"{where}: expected an AnyValue object")
    for key, item in value.items():
        if key in ("stringValue", "string_value"):
            return str(item)
        if key in ("boolValue", "bool_value"):
            return bool(item)
        if key in ("intValue", "int_value"):
            return _json_int_signed(item, where)
        if key in ("doubleValue", "double_value"):
            try:
                return float(item)
            except (TypeError, ValueError):
                raise OtlpError(f"{where}: {item!r} is not a number") from None
        if key in ("arrayValue", "array_value"):
            return [_json_value(v, where) for v in (item or {}).get("values") or []]
        if key in ("kvlistValue", "kvlist_value"):
            return _json_attributes((item or {}).get("values"), where)
        if key in ("bytesValue", "bytes_value"):
            return str(item)  # base64 text, shown as it came
    raise OtlpError(f"{where}: unknown AnyValue {sorted(value)!r}")


def _json_int_signed(value, where):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise OtlpError(f"{where}: {value!r} is not an integer") from None


# -- decoding: protobuf ----------------------------------------------------------

def rows_from_protobuf(body):
    """[(SpanRow, searchable pairs)] from an OTLP/protobuf ExportTraceServiceRequest.

    Raises OtlpError, or ImportError when opentelemetry-proto is not installed.
    This is the ingest hot path (SDKs send protobuf): per-resource work is done once.
    """
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as error:
        raise OtlpError(f"the body is not an OTLP protobuf ExportTraceServiceRequest ({error})") from None
    result = []
    append = result.append
    hexes = {}  # the spans of a trace share its id: convert it once
    for r_index, entry in enumerate(request.resource_spans):
        where = f"resourceSpans[{r_index}]"
        resource = _pb_attributes(entry.resource.attributes)
        resource_json = to_json(resource)
        resource_pairs = searchable_pairs({}, resource)
        service = _service_of(resource)
        for s_index, scope_spans in enumerate(entry.scope_spans):
            scope = scope_spans.scope
            scope_name = clean_text(scope.name) if scope.name else None
            scope_version = clean_text(scope.version) if scope.version else None
            for index, span in enumerate(scope_spans.spans):
                trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
                if len(trace_id) != 16 or len(span_id) != 8 or trace_id == _ZERO16 \
                        or span_id == _ZERO8 or (parent and len(parent) != 8):
                    span_where = f"{where}.scopeSpans[{s_index}].spans[{index}]"
                    _hex_id(trace_id, 16, span_where + ".traceId")   # raises with the reason
                    _hex_id(span_id, 8, span_where + ".spanId")
                    _hex_id(parent, 8, span_where + ".parentSpanId", required=False)
                trace_hex = hexes.get(trace_id)
                if trace_hex is None:
                    trace_hex = hexes[trace_id] = trace_id.hex()
                items = span.attributes
                attributes = _pb_attributes(items) if items else None
                status = span.status
                events = span.events
                if events:
                    events = to_json([{"name": event.name, "timestamp_ns": event.time_unix_nano,
                                       "attributes": _pb_attributes(event.attributes)}
                                      for event in events])
                links = span.links
                if links:
                    links = to_json([
                        {"trace_id": _hex_id(link.trace_id, 16, where + ".links.traceId"),
                         "span_id": _hex_id(link.span_id, 8, where + ".links.spanId"),
                         "attributes": _pb_attributes(link.attributes)} for link in links])
                name = span.name
                if not name.isascii():
                    name = clean_text(name)
                message = status.message
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                if end < start:
                    end = start  # clock steps: never a negative duration
                row = SpanRow(
                    trace_hex, span_id.hex(), parent.hex() if parent and parent != _ZERO8 else None,
                    service, name or "(unnamed)", KINDS.get(span.kind, "INTERNAL"), start, end,
                    end - start, STATUSES.get(status.code, "UNSET"),
                    clean_text(message) if message else None,
                    to_json(attributes) if attributes else "{}", events or "[]", links or "[]",
                    resource_json, scope_name, scope_version)
                if attributes:
                    pairs = _searchable(attributes)
                    append((row, pairs + resource_pairs if resource_pairs else pairs))
                else:
                    append((row, resource_pairs))
    return result


_ZERO16 = bytes(16)
_ZERO8 = bytes(8)
# AnyValue cases whose field is the attribute value as it is.
_SCALAR_CASES = frozenset({"string_value", "bool_value", "int_value", "double_value"})


def _pb_attributes(items):
    result = {}
    for item in items:
        value = item.value
        which = value.WhichOneof("value")
        result[item.key] = getattr(value, which) if which in _SCALAR_CASES else _pb_value(value)
    return result


def _pb_value(value):
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_pb_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return _pb_attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, which)


# -- encoding: stored spans -> OTLP/JSON -----------------------------------------

def traces_data(spans):
    """One OTLP/JSON TracesData dict for stored span dicts (from queries.get_trace)."""
    groups = {}
    for span in spans:
        resource = span.get("resource") or {}
        key = json.dumps(resource, sort_keys=True, default=str)
        scopes = groups.setdefault(key, (resource, {}))[1]
        scope_key = (span.get("scope_name") or "", span.get("scope_version") or "")
        scopes.setdefault(scope_key, []).append(_otlp_span(span))
    resource_spans = []
    for resource, scopes in groups.values():
        scope_spans = []
        for (name, version), otlp_spans in scopes.items():
            scope = {"name": name}
            if version:
                scope["version"] = version
            scope_spans.append({"scope": scope, "spans": otlp_spans})
        resource_spans.append({"resource": {"attributes": _otlp_attributes(resource)},
                               "scopeSpans": scope_spans})
    return {"resourceSpans": resource_spans}


def _otlp_span(span):
    result = {
        "traceId": span["trace_id"], "spanId": span["span_id"],
        "name": span["name"], "kind": _KIND_NUMBERS.get(span["kind"], 1),
        "startTimeUnixNano": str(span["start_ns"]), "endTimeUnixNano": str(span["end_ns"]),
        "attributes": _otlp_attributes(_decoded(span.get("attributes"), {})),
        "status": {"code": _STATUS_NUMBERS.get(span["status_code"], 0)},
    }
    if span.get("parent_span_id"):
        result["parentSpanId"] = span["parent_span_id"]
    if span.get("status_message"):
        result["status"]["message"] = span["status_message"]
    events = _decoded(span.get("events"), [])
    if events:
        result["events"] = [{"timeUnixNano": str(event.get("timestamp_ns") or 0),
                             "name": event.get("name", ""),
                             "attributes": _otlp_attributes(event.get("attributes") or {})}
                            for event in events]
    links = _decoded(span.get("links"), [])
    if links:
        result["links"] = [{"traceId": link["trace_id"], "spanId": link["span_id"],
                            "attributes": _otlp_attributes(link.get("attributes") or {})}
                           for link in links]
    return result


def _decoded(value, default):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return default
    return value if value is not None else default


def _otlp_attributes(attributes):
    return [{"key": str(key), "value": _otlp_value(value)} for key, value in attributes.items()]


def _otlp_value(value):
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_otlp_value(item) for item in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": _otlp_attributes(value)}}
    return {"stringValue": str(value)}
