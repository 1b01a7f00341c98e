"""Durations and timestamps in the form people read them."""

import time


def format_duration(ns):
    """`850 µs`, `12.3 ms`, `1.20 s`, `2m 05s` from nanoseconds."""
    if ns is None:
        return "?"
    ns = max(0, int(ns))
    if ns < 1_000:
        return f"{ns} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.0f} µs"
    if ns < 1_000_000_000:
        ms = ns / 1_000_000
        return f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"
    seconds = ns / 1_000_000_000
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s"


def format_time(ns):
    """Local wall-clock time of an epoch-nanoseconds timestamp, to the millisecond."""
    if ns is None:
        return "?"
    seconds, rest = divmod(int(ns), 1_000_000_000)
    try:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))
    except (OverflowError, OSError, ValueError):
        return "?"
    return f"{stamp}.{rest // 1_000_000:03d}"
