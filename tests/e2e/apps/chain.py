"""Three processes: this script, a multiprocessing child, and a subprocess.run of that
child. Every process makes one span by hand with the OpenTelemetry API.

usage: chain.py START_METHOD"""

import logging
import multiprocessing
import subprocess
import sys

from opentelemetry import trace

tracer = trace.get_tracer("chain")
LEAF = ("import logging, threading\n"
        "from opentelemetry import trace\n"
        "logging.basicConfig(format='%(message)s %(otelTraceID)s', level=logging.INFO)\n"
        "def in_thread():\n"
        "    with trace.get_tracer('leaf').start_as_current_span('leaf thread'): pass\n"
        "with trace.get_tracer('leaf').start_as_current_span('leaf'):\n"
        "    logging.info('leaf says')\n"
        "thread = threading.Thread(target=in_thread)\n"   # a root span of a second thread
        "thread.start(); thread.join()\n")


def worker():
    with tracer.start_as_current_span("worker"):
        subprocess.run([sys.executable, "-c", LEAF], check=True)


if __name__ == "__main__":
    with tracer.start_as_current_span("script"):
        process = multiprocessing.get_context(sys.argv[1]).Process(target=worker)
        process.start()
        process.join()
        sys.exit(process.exitcode)
