"""Calls raced in threads, for the tests of what happens when they run at the same moment."""

import threading

from django.db import connections


def race(calls):
    """Run the calls at the same moment, each in its own thread and connection; their results
    in order, an exception standing for its call's result."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as exc:  # collected and asserted on by the caller
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results
