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
    rate_target: float,
    machine_cpu: float,
) -> bool:
    """Print the summary of a run of `client.run_load` (`result`); `cpu` holds the CPU seconds
        of "web" and "worker", `main_cpu` those of the drill's own process (sandbox provider and
        webhook receiver), `machine_cpu` those of every process on the machine over the run. Returns
    whether the targets were met: the rate reached (95% of `rate_target`), p99 and no errors."""
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
    ours = cpu["web"] + cpu["worker"] + result["client_cpu"] + main_cpu
    others = max(0.0, machine_cpu - ours)
    capacity = result["wall"] * (os.cpu_count() or 1)
    print(
        f"other processes on the machine used {others:.1f} s of CPU during the run "
        f"({others / capacity * 100:.0f}% of its capacity)"
    )
    achieved = len(samples) / result["wall"]
    offered = achieved >= 0.95 * rate_target
    if not offered:
        print(
            f"the target load was NOT offered: {achieved:.1f} of {rate_target:.0f} req/s answered; "
            "latencies of this run are queueing, not a measurement of the target"
            + (" (the machine was busy with other work)" if others / capacity > 0.1 else "")
        )
    ok = offered and p99 <= p99_target and not result["errors"]
    print(
        f"target {rate_target:.0f} req/s, p99 <= {p99_target:.0f} ms and no errors: {'met' if ok else 'NOT met'}"
    )
    return ok
