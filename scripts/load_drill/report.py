"""The drill's summary: per-endpoint p50/p99/max, the rate achieved, statuses and errors, and
the CPU time per request served; and the verdict against the targets."""

import os
import statistics


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def print_report(
    result: dict,
    *,
    cpu: dict[str, float],
    main_cpu: float,
    runs: int,
    deliveries: int,
    p99_target: float,
) -> bool:
    """Print the summary of a run of `client.run_load` (`result`); `cpu` holds the CPU seconds
    of "web" and "worker", `main_cpu` those of the drill's own process (sandbox provider and
    webhook receiver). Returns whether the targets were met."""
    samples = result["all"]
    p50, p99 = percentile(samples, 50), percentile(samples, 99)
    print()
    print(f"{'endpoint':<18}{'n':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for kind, values in result["latencies"].items():
        if values:
            print(
                f"{kind:<18}{len(values):>7}{percentile(values, 50):>9.1f}{percentile(values, 99):>9.1f}{max(values):>9.1f}"
            )
    print(f"{'all':<18}{len(samples):>7}{p50:>9.1f}{p99:>9.1f}{max(samples):>9.1f}")
    print()
    print(
        f"achieved {len(samples) / result['wall']:.1f} req/s over {result['wall']:.1f} s; "
        f"mean {statistics.fmean(samples):.1f} ms"
    )
    print(f"statuses: {dict(result['statuses'])}; errors: {len(result['errors'])}")
    served = sum(result["statuses"].values()) + sum(result["resyncs"].values())  # warm-up too
    print(
        f"CPU: gunicorn {cpu['web']:.1f} s = {cpu['web'] / served * 1000:.2f} ms per request served; "
        f"celery worker+beat {cpu['worker']:.1f} s; load client {result['client_cpu']:.1f} s; "
        f"sandbox provider and webhook receiver {main_cpu:.1f} s; over {result['wall']:.1f} s "
        f"on {os.cpu_count()} CPUs"
    )
    print(
        f"during the run: {runs} syncs finished, {deliveries} webhooks delivered, resyncs {dict(result['resyncs'])}"
    )
    ok = p99 <= p99_target and not result["errors"]
    print(f"target p99 <= {p99_target:.0f} ms and no errors: {'met' if ok else 'NOT met'}")
    return ok
