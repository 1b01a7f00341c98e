"""Small span helpers shared by every span builder."""

from opentelemetry.trace import Status, StatusCode

from autotrace.lean_span import LeanSpan
from autotrace.lean_tracer import LeanTracer
from autotrace.semconv import ERROR_TYPE

__all__ = ["qualified_name", "fail_span", "mark_failed", "data_free_message", "start_span", "span_starter", "add_attributes"]


def qualified_name(kind):
    """`requests.exceptions.ConnectionError`; builtins keep their bare name (`TimeoutError`)."""
    module = getattr(kind, "__module__", "") or ""
    name = getattr(kind, "__qualname__", None) or getattr(kind, "__name__", "Exception")
    return name if module in ("builtins", "") else module + "." + name


def fail_span(span, exc, attributes=None, secrets=(), clean_message=None):
    """Mark `span` as failed by `exc` (see mark_failed) and end it."""
    mark_failed(span, exc, attributes, secrets, clean_message)
    span.end()


def mark_failed(span, exc, attributes=None, secrets=(), clean_message=None):
    """Mark `span` as failed by `exc`: error.type, an exception event, ERROR status.

    `secrets`: strings that must not reach the span even though the exception's
    message or traceback quotes them (a URL's token, say).
    `clean_message(exc) -> text`: for messages that may quote any data (a database
    error repeating a statement's values); the stack trace then ends with the cleaned
    message instead of the original one."""
    if span.is_recording():
        span.set_attribute(ERROR_TYPE, qualified_name(type(exc)))
        if attributes:
            span.set_attributes(attributes)
        message = str(exc)
        if clean_message is not None:
            from traceback import format_tb
            message = clean_message(exc)
            span.record_exception(exc, attributes={
                "exception.message": message,
                "exception.stacktrace": "Traceback (most recent call last):\n%s%s: %s\n" % (
                    "".join(format_tb(exc.__traceback__)), qualified_name(type(exc)), message),
            })
        elif secrets:
            from traceback import format_exception
            from autotrace.redaction import scrub
            message = scrub(message, secrets)
            span.record_exception(exc, attributes={
                "exception.message": message,
                "exception.stacktrace": scrub("".join(format_exception(exc)), secrets),
            })
        else:
            span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, "%s: %s" % (type(exc).__name__, message)))


_DATA = None


def data_free_message(exc):
    """A database error message without the data it may quote: its first line only
    (PostgreSQL's DETAIL and LINE lines repeat values and the statement), with quoted
    parts and numbers replaced by `?` (MySQL's "Duplicate entry 'alice@x' for key
    'email'" becomes "Duplicate entry ?", PostgreSQL's 'invalid input syntax for type
    integer: "4111..."' loses the number).
    The error code stays on the span as db.response.status_code. MySQL drivers raise
    with args (code, message): the message is used."""
    global _DATA
    if _DATA is None:
        import re
        # From the first quote to the last of its kind, greedily: drivers quote values
        # without escaping them (MySQL: near ''Hunter2'' at line 1), so pairs cannot be trusted.
        _DATA = re.compile(r"'.*'|'.*|\".*\"|\".*|`.*`|`.*|\b\d[\w.+-]*")
    args = getattr(exc, "args", ())
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = args[1]
    else:
        text = str(exc)
    first = text.strip().split("\n", 1)[0]
    return _DATA.sub("?", first)


def start_span(tracer, name, kind, attributes, context=None, links=None):
    """`tracer.start_span(...)` with the attributes stored as by `add_attributes`.

    The sampler is asked without them: the samplers autotrace builds do not look at
    attributes (a provider the app set up itself keeps its own, and gets them late)."""
    if type(tracer) is LeanTracer:
        return tracer.start(name, kind, attributes, context, links)
    span = tracer.start_span(name, context=context, kind=kind, links=links)
    if attributes:
        add_attributes(span, attributes)
    return span


def span_starter(tracer):
    """`start(name, kind, attributes)` for `tracer`, as start_span: the LeanTracer's own
    method when it is one (a builder keeps this, and saves a call on every span)."""
    if type(tracer) is LeanTracer:
        return tracer.start

    def start(name, kind, attributes, context=None, links=None):
        return start_span(tracer, name, kind, attributes, context, links)
    return start


_fast_store = None   # the SDK's attribute container class, once known to be as expected


def add_attributes(span, attributes):
    """`span.set_attributes(attributes)` for the values our builders make (str, int,
    float, bool, tuples of str), without the SDK's per-value validation: a third of the
    cost of a span with a dozen attributes. Falls back to set_attributes whenever a
    limit could apply (attribute count, value length) or the SDK is not as expected."""
    if type(span) is LeanSpan:
        if span._end_time is None:
            span._attributes.update(attributes)
        return
    store = getattr(span, "_attributes", None)
    if type(store) is _fast_attributes_class() and store.max_value_len is None \
            and getattr(span, "_end_time", 0) is None:
        values = store._dict
        if store.maxlen is None or len(values) + len(attributes) <= store.maxlen:
            values.update(attributes)
            return
    span.set_attributes(attributes)


def _fast_attributes_class():
    global _fast_store
    if _fast_store is None:
        _fast_store = False
        try:
            from opentelemetry.attributes import BoundedAttributes
            probe = BoundedAttributes(maxlen=4, immutable=False)
            probe["k"] = "v"
            if type(getattr(probe, "_dict", None)) is dict and probe._dict == {"k": "v"} \
                    and probe.max_value_len is None and probe.maxlen == 4:
                _fast_store = BoundedAttributes
        except Exception:
            pass
    return _fast_store

