"""What is installed: distribution versions and `autotrace.instrumentations` entry points.

`importlib.metadata` answers both, but importing it costs ~20 ms, more than our whole
startup budget. Installed distributions are `<name>-<version>.dist-info` folders on
`sys.path`, so one directory listing per path entry gives names and versions, and
only folders that have an `entry_points.txt` are opened to find our group.
`importlib.metadata` remains the fallback for layouts this scan does not know (eggs,
zips).
"""

import os
import sys

__all__ = ["installed_version", "first_installed", "entry_points", "version_in_range", "normalize"]

ENTRY_POINT_GROUP = "autotrace.instrumentations"
_index = None   # normalized name -> (version, dist-info path)


def normalize(name):
    return name.lower().replace("-", "_").replace(".", "_")


def installed_version(distribution):
    """The installed version of `distribution` as a string, or None."""
    found = _scan().get(normalize(distribution))
    if found is not None:
        return found[0]
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8 is not supported anyway
        return None
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
    except Exception:
        return None


def first_installed(names):
    """(name, version) of the first of `names` that is installed, or (names[0], None).

    `names` is one distribution name or a tuple of names for a library published
    under several (psycopg2 and psycopg2-binary)."""
    if isinstance(names, str):
        names = (names,)
    for name in names:
        version = installed_version(name)
        if version is not None:
            return name, version
    return (names[0] if names else ""), None


def entry_points():
    """[(name, "module:attr")] registered in our entry-point group, in sys.path order."""
    found = []
    for _version, path in _scan().values():
        try:
            with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            continue
        if ENTRY_POINT_GROUP in text:
            found.extend(_parse_group(text, ENTRY_POINT_GROUP))
    return found


def refresh():
    global _index
    _index = None


def _scan():
    global _index
    if _index is not None:
        return _index
    index = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if not folder.endswith(".dist-info"):
                continue
            name, _, version = folder[: -len(".dist-info")].partition("-")
            index.setdefault(normalize(name), (version, os.path.join(entry or ".", folder)))
    _index = index
    return index


def _parse_group(text, group):
    pairs, inside = [], False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            inside = line == "[%s]" % group
        elif inside and "=" in line and not line.startswith(("#", ";")):
            name, _, target = line.partition("=")
            pairs.append((name.strip(), target.strip()))
    return pairs


def version_in_range(version, supported):
    """True when `version` ("2.31.0", "3.2.1rc1") satisfies `supported` (">=2.20,<3").

    Only what instrumentation ranges need: comma-separated clauses with the operators
    >=, >, <=, <, ==, != on dotted numbers. Pre-release tags compare as their release.
    """
    if not supported:
        return True
    current = _release(version)
    for clause in supported.split(","):
        clause = clause.strip()
        if not clause:
            continue
        for op in (">=", "<=", "==", "!=", ">", "<"):
            if clause.startswith(op):
                bound = _release(clause[len(op):])
                break
        else:
            raise ValueError("bad version clause %r" % clause)
        width = max(len(current), len(bound))
        left = current + (0,) * (width - len(current))
        right = bound + (0,) * (width - len(bound))
        if not _COMPARE[op](left, right):
            return False
    return True


_COMPARE = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
}


def _release(text):
    parts = []
    for piece in text.strip().split("."):
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):   # "0rc1": the release part ends here
            break
    return tuple(parts) or (0,)
