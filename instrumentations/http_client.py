"""The standard library's http.client, and so urllib.request (and xmlrpc.client) too.

A request is sent in steps, so the span does not wrap one call: it starts in
`putrequest` (which `request()` calls), sends its trace headers right after it, records
the request headers asked for in `endheaders` (all of them are written by then), ends
with an error if sending fails (`request`, `endheaders`: connection refused, DNS),
and ends in `getresponse`, when the status line and headers have arrived.
"""

from autotrace.spec import Instrumentation, Patch, Wrapper

_PROTOCOLS = {10: "1.0", 11: "1.1"}


def _describe(instance, args, kwargs):
    method = args[0] if args else kwargs.get("method")
    url = str(args[1] if len(args) > 1 else kwargs.get("url", ""))
    host = getattr(instance, "_tunnel_host", None) or instance.host   # through an HTTPS proxy: the real target
    if "://" in url and host == instance.host:   # absolute form: a plain HTTP proxy
        return method, url
    port = getattr(instance, "_tunnel_port", None) or instance.port
    scheme = "https" if instance.default_port == 443 else "http"   # HTTPSConnection
    host = "[%s]" % host if ":" in host else host
    return method, "%s://%s%s%s" % (scheme, host, "" if port == instance.default_port else ":%s" % port, url)


def _add_header(instance, name, value):
    instance.putheader(name, value)


def _sent_headers(connection):
    # putheader() writes "Name: value" lines to the connection's buffer, after the
    # request line, and endheaders() sends them: read there, headers cost nothing
    # unless capture is asked for (a wrapper on putheader would cost every header).
    pairs = []
    for line in (getattr(connection, "_buffer", None) or ())[1:]:
        name, colon, value = line.partition(b":")
        if colon:   # several values of one putheader() call are folded onto one line
            pairs.append((name.strip(), value.replace(b"\r\n\t", b" ").strip()))
    return pairs


def _response(response):
    return response.status, _PROTOCOLS.get(response.version)


def _response_headers(response):
    return response.headers


SPEC = Instrumentation(
    name="http_client",
    modules=("http.client",),
    distribution="",   # part of the standard library
    supported="",
    description="HTTP client spans and outgoing trace context for http.client and urllib.request",
    patches=(
        Patch("http.client", "HTTPConnection.putrequest", Wrapper("_http.begin", describe=_describe,
                                                                  add_header=_add_header), plain=True),
        Patch("http.client", "HTTPConnection.request", Wrapper("_http.sending"), plain=True),
        Patch("http.client", "HTTPConnection.endheaders", Wrapper("_http.sending", sent_headers=_sent_headers),
              plain=True),
        Patch("http.client", "HTTPConnection.getresponse",
              Wrapper("_http.finish", response=_response, response_headers=_response_headers), plain=True),
    ),
)
