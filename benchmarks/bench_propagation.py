"""How fast is context propagation? Extraction and injection per second.

    PYTHONPATH=. python benchmarks/bench_propagation.py [--runs 10] [--number 20000]

The request carries a traceparent, a 32-member tracestate and a handful of ordinary
headers, in a plain dict with mixed-case names as a framework would hand it over.
Each figure is the median of --runs timed runs of --number calls; OTel's own W3C
propagator is measured in the same process on the same carrier for comparison.
"""

import argparse
import statistics
import sys
import time

from opentelemetry.baggage.propagation import W3CBaggagePropagator as OTelBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator as OTelCompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from autotrace.propagation import build_propagator

TRACESTATE = ",".join("vendor%02d=value-%02d" % (index, index) for index in range(32))
CARRIER = {
    "Host": "service.internal:8080",
    "User-Agent": "python-requests/2.32",
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "Content-Length": "0",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "tracestate": TRACESTATE,
}
BAGGAGE_CARRIER = dict(CARRIER, baggage="userId=alice,serverNode=DF%2028,isProduction=false")


def per_second(function, number, runs):
    """Median calls per second over `runs` runs of `number` calls."""
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(number):
            function()
        rates.append(number / (time.perf_counter() - started))
    return statistics.median(rates)


def compare(label, ours, theirs, number, runs):
    our_rate = per_second(ours, number, runs)
    their_rate = per_second(theirs, number, runs)
    print(
        "%-44s autotrace %9.0f/s (%5.2f us)   otel %9.0f/s (%5.2f us)   x%.2f"
        % (label, our_rate, 1e6 / our_rate, their_rate, 1e6 / their_rate, our_rate / their_rate)
    )
    return our_rate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--number", type=int, default=20_000)
    options = parser.parse_args(argv)
    runs = max(options.runs, 10)
    number = options.number

    ours = build_propagator(["tracecontext"])
    theirs = TraceContextTextMapPropagator()
    # Same outcome first: comparing two propagators that disagree would mean nothing.
    our_context = ours.extract(CARRIER)
    their_context = theirs.extract(CARRIER)
    our_headers, their_headers = {}, {}
    ours.inject(our_headers, our_context)
    theirs.inject(their_headers, their_context)
    if our_headers != their_headers or our_headers["tracestate"] != TRACESTATE:
        sys.exit("the two propagators disagree: %r != %r" % (our_headers, their_headers))

    print("python %s, median of %d runs x %d calls" % (sys.version.split()[0], runs, number))
    extract_rate = compare(
        "extract traceparent + 32-member tracestate", lambda: ours.extract(CARRIER), lambda: theirs.extract(CARRIER), number, runs
    )
    inject_rate = compare(
        "inject traceparent + 32-member tracestate",
        lambda: ours.inject({}, our_context),
        lambda: theirs.inject({}, their_context),
        number,
        runs,
    )
    ours_default = build_propagator(("tracecontext", "baggage"))
    theirs_default = OTelCompositePropagator([TraceContextTextMapPropagator(), OTelBaggagePropagator()])
    compare(
        "extract tracecontext + baggage (defaults)",
        lambda: ours_default.extract(BAGGAGE_CARRIER, Context()),
        lambda: theirs_default.extract(BAGGAGE_CARRIER, Context()),
        number,
        runs,
    )
    default_context = ours_default.extract(BAGGAGE_CARRIER, Context())
    compare(
        "inject tracecontext + baggage (defaults)",
        lambda: ours_default.inject({}, default_context),
        lambda: theirs_default.inject({}, default_context),
        number,
        runs,
    )
    print("RESULT extract_per_second=%.0f inject_per_second=%.0f target_extract=50000 %s"
          % (extract_rate, inject_rate, "OK" if extract_rate >= 50_000 else "BELOW TARGET"))


if __name__ == "__main__":
    main()
