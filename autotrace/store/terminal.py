"""What `autotrace traces` and `autotrace show` print.

Both functions return an exit code and print problems as one plain line: the CLI can
hand their result straight to sys.exit. Output falls back to ASCII when the stream
cannot encode the box and block characters (a Windows console, LANG=C).
"""

import math
import shutil
import sys

from .humanize import format_duration, format_time
from .queries import StoreError, get_trace, list_traces
from .tree import tree_rows

__all__ = ["print_traces", "print_trace"]

NO_TRACES = ("No traces yet. Run your app under autotrace to record some, "
             "e.g.: autotrace run python app.py")
FULL = "█"
ERROR_MARK = "✗"
ORPHAN_MARK = "⚠"
SHORT_ID = 12
MIN_BAR = 10
_ASCII = str.maketrans({"█": "#", "✗": "x", "⚠": "!", "├": "|", "└": "`", "│": "|",
                        "─": "-", "µ": "u", "·": "-", "…": "~"})


def print_traces(path, service=None, errors_only=False, limit=20, out=None, **filters):
    """Print the newest traces as a table. Extra filters go to queries.list_traces."""
    write = _writer(out)
    try:
        traces = list_traces(path, service=service, errors_only=errors_only, limit=limit,
                             **filters)
    except (StoreError, ValueError) as error:
        write(f"autotrace: {error}")
        return 1
    if not traces:
        if service or errors_only or any(value is not None for value in filters.values()):
            write("No traces match these filters.")
        else:
            write(NO_TRACES)
        return 0

    header = ("START", "TRACE", "SERVICE", "OPERATION", "DURATION", "SPANS", "ERRORS")
    lines = []
    for trace in traces:
        name = trace["name"] if trace["complete"] else f"{trace['name']} (incomplete)"
        lines.append((format_time(trace["start_ns"]), trace["trace_id"][:SHORT_ID],
                      _clip(_one_line(trace["service"]), 24), _clip(_one_line(name), 48),
                      format_duration(trace["duration_ns"]), str(trace["span_count"]),
                      str(trace["error_count"]) if trace["error_count"] else "-"))
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    right_aligned = {4, 5, 6}
    for row in [header, *lines]:
        cells = [cell.rjust(widths[i]) if i in right_aligned else cell.ljust(widths[i])
                 for i, cell in enumerate(row)]
        write("  ".join(cells).rstrip())
    write("")
    write("Show one: autotrace show <trace id>   (the first 8 digits are enough)")
    return 0


def print_trace(path, trace_id, out=None, width=None):
    """Print one trace as a waterfall: a span tree with bars on a shared time axis."""
    write = _writer(out)
    try:
        spans = get_trace(path, trace_id)
    except (StoreError, ValueError) as error:
        write(f"autotrace: {error}")
        return 1
    if not spans:
        write(f"autotrace: no trace {str(trace_id).strip()} in {path}")
        return 1
    width = width or shutil.get_terminal_size((100, 24)).columns
    rows = tree_rows(spans)

    # The axis covers every span, not just the root: with clock skew between hosts a
    # child may start before, or end after, its parent.
    axis_start = min(span["start_ns"] for span in spans)
    axis_end = max(max(span["end_ns"], span["start_ns"]) for span in spans)
    errors = sum(1 for span in spans if span["status_code"] == "ERROR")
    services = sorted({span["service_name"] for span in spans})
    summary = [f"Trace {spans[0]['trace_id']}", format_time(axis_start),
               format_duration(axis_end - axis_start), f"{len(spans)} spans",
               _plural(len(services), "service")]
    if errors:
        summary.append(_plural(errors, "error"))
    if not any(span["parent_span_id"] is None for span in spans):
        summary.append("incomplete: the root span has not arrived")
    write("  ·  ".join(summary))
    write("")

    labels = [row.prefix + _one_line(row.span["name"]) for row in rows]
    label_width = min(max(len(label) for label in labels), max(16, width * 2 // 5))
    service_width = min(max(len(span["service_name"]) for span in spans), 20)
    duration_width = 9
    bar_width = max(MIN_BAR, width - label_width - service_width - duration_width - 6)
    for row, label in zip(rows, labels):
        span = row.span
        bar = _bar(span["start_ns"], span["end_ns"], axis_start, axis_end, bar_width)
        line = (f"{_clip(label, label_width).ljust(label_width)}  "
                f"{_clip(_one_line(span['service_name']), service_width).ljust(service_width)}  "
                f"{format_duration(span['duration_ns']).rjust(duration_width)}  {bar}")
        notes = []
        if span["status_code"] == "ERROR":
            notes.append(f"{ERROR_MARK} {_clip(_one_line(_error_text(span)), 60)}".rstrip())
        if row.orphan:
            parent = span.get("parent_span_id")
            notes.append(f"{ORPHAN_MARK} parent {parent} not in trace" if parent
                         else f"{ORPHAN_MARK} parent not in trace")
        write((line + "  " + "  ".join(notes)) if notes else line.rstrip())
    return 0


def _bar(start, end, axis_start, axis_end, width):
    """A bar of full blocks at the span's place on the axis; never negative or empty."""
    total = max(axis_end - axis_start, 1)
    end = max(end, start)
    first = int((start - axis_start) / total * width)
    first = min(max(first, 0), width - 1)
    last = math.ceil((end - axis_start) / total * width)
    last = min(max(last, first + 1), width)
    return " " * first + FULL * (last - first) + " " * (width - last)


def _error_text(span):
    """The best one-line reason for a failed span."""
    if span.get("status_message"):
        return span["status_message"]
    attributes = span.get("attributes") if isinstance(span.get("attributes"), dict) else {}
    for event in span.get("events") or ():
        if isinstance(event, dict) and event.get("name") == "exception":
            details = event.get("attributes") or {}
            kind, message = details.get("exception.type"), details.get("exception.message")
            if kind or message:
                return ": ".join(str(part) for part in (kind, message) if part)
    if attributes.get("error.type"):
        return str(attributes["error.type"])
    return "error"


def _clip(text, width):
    text = str(text)
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"


def _one_line(text):
    """Span names and messages come from apps: no newlines or tabs inside a row."""
    return " ".join(str(text).split())


def _plural(count, word):
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _writer(out):
    stream = out if out is not None else sys.stdout

    def write(line):
        try:
            stream.write(line + "\n")
        except UnicodeEncodeError:
            stream.write(line.translate(_ASCII).encode("ascii", "replace").decode("ascii") + "\n")

    return write
