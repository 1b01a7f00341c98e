"""Reading header values out of whatever object a framework calls "the headers".

HTTP header names are case-insensitive, and the objects we receive do not agree on
how they store them: a plain dict in any case ("Traceparent"), a list of
(name, value) tuples (ASGI, raw http.client headers), a WSGI environ where the name
became "HTTP_TRACEPARENT", multi-dicts that repeat a name. `CaseInsensitiveGetter`
reads all of them, and returns every value found under the name so a propagator can
see that a header was repeated.

OTel's own `default_getter` does an exact-case dict lookup. Our propagators swap it
for `case_insensitive_getter` (see `resolve_getter`), which reads a superset of what
the default one reads, so callers who pass nothing get the right behaviour.
"""

from opentelemetry.propagators.textmap import Getter, default_getter

__all__ = ["CaseInsensitiveGetter", "case_insensitive_getter", "EnvironGetter", "environ_getter", "IndexGetter",
           "index_getter", "index_headers", "resolve_getter", "read_header"]

# A peer controls how many values a header has; a bound keeps pathological carriers
# (thousands of repeated headers) from costing more than they are worth.
_MAX_VALUES_PER_HEADER = 64

# Lowercase name -> WSGI environ name, filled lazily; header names come from our own
# propagators, so this stays tiny. Bounded anyway in case a caller loops over names.
_ENVIRON_NAMES = {}


def _environ_name(lowered):
    name = _ENVIRON_NAMES.get(lowered)
    if name is None:
        name = "HTTP_" + lowered.upper().replace("-", "_")
        if len(_ENVIRON_NAMES) < 256:
            _ENVIRON_NAMES[lowered] = name
    return name


def _as_text(name):
    """Header names and values may arrive as bytes (ASGI); header bytes are latin-1."""
    if isinstance(name, str):
        return name
    if isinstance(name, (bytes, bytearray)):
        return bytes(name).decode("latin-1")
    return None


def _text_if_bytes(value):
    text = _as_text(value)
    return value if text is None else text


def _pairs(carrier):
    """The carrier as an iterable of (name, value) pairs, whatever its shape."""
    items = getattr(carrier, "items", None)
    if items is not None:
        return items()
    if isinstance(carrier, (list, tuple)):
        return carrier
    return ()


_SCAN = object()


def _get_from_plain_dict(carrier, key, lowered, environ_name):
    """The common case, answered with C-level operations, or _SCAN when unsure.

    Lowercasing every name in one map() call tells how many names match; when the
    only match is the exact spelling asked for, one dict lookup gives the value.
    Anything unusual (other spellings, WSGI names, non-str names) goes to the scan.
    """
    try:
        count = list(map(str.lower, carrier)).count(lowered)
    except TypeError:  # a name that is not a str
        return _SCAN
    if environ_name in carrier:
        return _SCAN
    if count == 0:
        return None
    if count == 1 and key in carrier:
        value = carrier[key]
        if isinstance(value, (list, tuple)):
            return list(map(_text_if_bytes, value))
        return [_text_if_bytes(value)]
    return _SCAN


class CaseInsensitiveGetter(Getter):
    """Reads headers by name ignoring case, from dicts, pair lists and WSGI environs."""

    def get(self, carrier, key):
        """Every value stored under `key` (any case, or its WSGI form), or None.

        Byte values are decoded as latin-1, as HTTP header bytes are.
        """
        if carrier is None or not isinstance(key, str):
            return None
        lowered = key.lower()
        environ_name = _environ_name(lowered)
        if type(carrier) is dict:
            found = _get_from_plain_dict(carrier, key, lowered, environ_name)
            if found is not _SCAN:
                return found
        # Comparing lengths first skips lower() for almost every other header.
        key_length = len(key)
        environ_length = key_length + 5
        found = None
        for pair in _pairs(carrier):
            try:
                name, value = pair
            except (TypeError, ValueError):
                continue
            if type(name) is not str:
                name = _as_text(name)
                if name is None:
                    continue
            length = len(name)
            if length == key_length:
                if name != lowered and name.lower() != lowered:
                    continue
            elif length != environ_length or name != environ_name:
                continue
            if found is None:
                found = []
            if isinstance(value, (list, tuple)):
                found.extend(map(_text_if_bytes, value))
            else:
                found.append(_text_if_bytes(value))
        return found

    def keys(self, carrier):
        """Header names in the carrier; WSGI "HTTP_X_Y" names come back as "x-y"."""
        names = []
        for pair in _pairs(carrier):
            try:
                name, _value = pair
            except (TypeError, ValueError):
                continue
            name = _as_text(name)
            if name is None:
                continue
            if name.startswith("HTTP_"):
                name = name[5:].lower().replace("_", "-")
            names.append(name)
        return names


case_insensitive_getter = CaseInsensitiveGetter()


class EnvironGetter(Getter):
    """Reads headers from a WSGI environ, where a server has already folded every
    spelling of a name into one "HTTP_NAME" key (and joined repeated headers with a
    comma): one dict lookup, instead of the general getter's scan of every key."""

    @staticmethod
    def storage_key(name):
        """The environ key header `name` is stored under: `key in environ` tells
        whether the request has that header."""
        return _environ_name(name.lower())

    def get(self, carrier, key):
        name = _ENVIRON_NAMES.get(key)   # our propagators ask for lowercase names: one lookup
        if name is None:
            if not isinstance(key, str):
                return None
            name = _environ_name(key.lower())
        value = carrier.get(name)
        if value is None:
            return None
        return [value] if type(value) is str else [_text_if_bytes(value)]

    def keys(self, carrier):
        """The request's header names ("HTTP_X_B3_TRACEID" -> "x-b3-traceid")."""
        return [name[5:].lower().replace("_", "-") for name in carrier
                if isinstance(name, str) and name.startswith("HTTP_")]


environ_getter = EnvironGetter()


def index_headers(pairs):
    """{lowercase name: [value, ...]} from (name, value) pairs of bytes or str (ASGI's
    headers), built in one pass: every propagator field is then one dict lookup instead
    of a scan of all the pairs. Values stay in order; pairs that are not pairs of text
    are skipped."""
    index = {}
    for pair in pairs:
        try:
            name, value = pair
        except (TypeError, ValueError):
            continue
        if type(name) is bytes and type(value) is bytes:   # ASGI's usual pair: _as_text, inline
            name, value = name.decode("latin-1").lower(), value.decode("latin-1")
        else:
            name, value = _as_text(name), _as_text(value)
            if name is None or value is None:
                continue
            name = name.lower()
        values = index.get(name)
        if values is None:
            index[name] = [value]
        elif len(values) < _MAX_VALUES_PER_HEADER:
            values.append(value)
    return index


class IndexGetter(Getter):
    """Reads headers from an `index_headers` index."""

    @staticmethod
    def storage_key(name):
        """The index key header `name` is stored under (see EnvironGetter.storage_key)."""
        return name.lower()

    def get(self, carrier, key):
        return carrier.get(key.lower()) if isinstance(key, str) else None

    def keys(self, carrier):
        return list(carrier)


index_getter = IndexGetter()


def resolve_getter(getter):
    """The getter to use: ours in place of OTel's exact-case default."""
    if getter is None or getter is default_getter:
        return case_insensitive_getter
    return getter


def read_header(getter, carrier, name):
    """All values of header `name` as a list of str, whatever the getter returned.

    A getter may return None, a list, a bare string (a common bug in hand-written
    getters), bytes, or values that are not text at all; non-text values are ignored.
    """
    raw = getter.get(carrier, name)
    if raw is None:
        return []
    if type(raw) is list and len(raw) == 1 and type(raw[0]) is str:
        return raw  # the usual answer, already in shape
    if isinstance(raw, (str, bytes, bytearray)):
        raw = (raw,)
    values = []
    for item in raw:
        text = _as_text(item)
        if text is not None:
            values.append(text)
            if len(values) >= _MAX_VALUES_PER_HEADER:
                break
    return values
