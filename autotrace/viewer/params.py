"""Reading the trace list's filters from a query string (the same names the UI keeps
in its own URL), and times given by people ("15m", "2024-05-01T10:00", epoch ms)."""

import datetime
import re
import time

from autotrace.store.queries import parse_attribute_filters

__all__ = ["BadParameter", "list_filters", "parse_time", "window"]

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_LIMIT = 1000


class BadParameter(ValueError):
    """A filter value that cannot be understood; the message names it."""


def parse_time(text, now=None):
    """Unix epoch nanoseconds from "15m"/"2h"/"7d" (that long ago), epoch milliseconds,
    or an ISO 8601 date/time (local time when it has no zone)."""
    text = str(text).strip()
    now = time.time() if now is None else now
    match = _AGO.match(text)
    if match:
        return int((now - float(match.group(1)) * _UNITS[match.group(2)]) * 1e9)
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return int(float(text) * 1e6)
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(f"{text!r} is not a time (use 15m, 2h, 7d, epoch milliseconds "
                           "or an ISO 8601 date)") from None
    return int(moment.timestamp() * 1e9)


def _one(query, name):
    values = query.get(name) or []
    value = values[-1].strip() if values else ""
    return value or None


def _millis(query, name):
    value = _one(query, name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise BadParameter(f"{name}={value!r} is not a number of milliseconds") from None
    if number < 0:
        raise BadParameter(f"{name} must not be negative")
    return int(number * 1e6)


def window(query):
    """(since_ns, until_ns) from the since/until parameters."""
    since, until = _one(query, "since"), _one(query, "until")
    return (parse_time(since) if since else None, parse_time(until) if until else None)


def list_filters(query):
    """keyword arguments for queries.list_traces from a parse_qs() dict."""
    since_ns, until_ns = window(query)
    try:
        attributes = parse_attribute_filters([a for a in query.get("attr", []) if a.strip()])
    except ValueError as error:
        raise BadParameter(str(error)) from None
    limit = _one(query, "limit")
    try:
        limit = min(MAX_LIMIT, max(1, int(limit))) if limit else 100
    except ValueError:
        raise BadParameter(f"limit={limit!r} is not a number") from None
    return dict(service=_one(query, "service"), operation=_one(query, "operation"),
                errors_only=_one(query, "errors") in ("1", "true", "on", "yes"),
                min_duration_ns=_millis(query, "min_ms"), max_duration_ns=_millis(query, "max_ms"),
                since_ns=since_ns, until_ns=until_ns, attributes=attributes, limit=limit)
