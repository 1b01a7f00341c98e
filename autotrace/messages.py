"""The one way autotrace talks to the user at run time: single lines on stderr.

Not the `logging` module: importing it costs milliseconds at startup, and the app's
logging configuration (levels, handlers, propagation) must not decide whether a
user sees that their configuration is wrong.
"""

import sys

__all__ = ["warn", "warn_once", "debug", "set_debug"]

_debug = False
_said = set()


def set_debug(enabled):
    global _debug
    _debug = bool(enabled)


def warn(message):
    _write("autotrace: warning: " + message)


def warn_once(key, message):
    """Warn the first time `key` is seen in this process; later calls are silent."""
    if key not in _said:
        _said.add(key)
        warn(message)


def debug(message):
    if _debug:
        _write("autotrace: debug: " + message)


def _write(line):
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except Exception:  # a closed or broken stderr must not break the app
        pass
