"""Spans from a parent and from multiprocessing children (fork and spawn)."""

import multiprocessing
import sqlite3
import sys


def work(tag):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE %s (x INTEGER)" % tag)


if __name__ == "__main__":
    work("parent_before")
    for method in sys.argv[1:]:
        context = multiprocessing.get_context(method)
        children = [context.Process(target=work, args=("child_%s_%d" % (method, n),)) for n in range(2)]
        for child in children:
            child.start()
        for child in children:
            child.join()
            assert child.exitcode == 0
    work("parent_after")
