"""What the metrics emitter costs per request, in CPU microseconds, next to the usual anchors.

    python benchmarks/metrics_cost.py [--rounds 7] [--requests 20000] [VARIANT ...]
    python benchmarks/metrics_cost.py --interleaved [--rounds 7] [--requests 20000]

Each round runs every variant of ``benchmarks/inprocess.py`` once, in its own interpreter, with
``--cpu``: the process's CPU time (every thread, so zerolog_mw's flush thread too) over N
requests, ending with a flush of zerolog_mw's recorders so the aggregation and the StatsD send
of what those requests recorded are inside it. Rounds visit the variants in reverse order every
other round; the table gives medians. The differences are the per-request costs issue 5 asks
about:

* the emitter inside the full stack: ``*-zerolog`` minus ``*-zerolog-nometrics``;
* the emitter alone: ``*-MetricsEmitter`` minus ``*-bare``;
* the anchors: ``starlette-exporter`` and ``starlette-pfi`` (prometheus-fastapi-instrumentator)
  minus ``starlette-bare``;
* the emitter around a two-line app with no framework (``asgi-*``, ``wsgi-*``): the same code,
  without a framework's code and data competing for the CPU's caches (in a Flask app the
  emitter's instructions take about twice as long as around the two-line app).

With ``--interleaved`` each difference is instead measured in one interpreter per round
(``inprocess.py --interleaved VARIANT BASELINE``): both apps built in the same process and
called alternately, request by request, and the means of their wall times per request
compared (the slowest 0.1 % left out as the machine's; the variant's final flush spread over
its requests). Separate processes differ in memory layout and in how warm each app keeps the
caches over a long run; interleaved, both share one layout and warmth, which keeps the
difference within about ±0.15 µs between runs where separate processes swing by µs. It is the
cost with both apps equally warm, not of a process serving the metered app alone.

Two reference operations are timed in this process, in the same run: one ``statsd`` client
``timing`` + ``incr`` (what a naive emitter sends per request; UDP to a closed port) and one
labelled ``prometheus_client`` histogram ``observe``. CPU time on a shared machine is steadier
than the wall clock but still moves with load: compare figures from one run, and see
``callgrind.py`` for instruction counts.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from inprocess import SKIPPED  # this directory is sys.path[0]

__all__ = ["main"]

INPROCESS = Path(__file__).resolve().with_name("inprocess.py")
DEFAULT_VARIANTS = (
    "starlette-bare",
    "starlette-zerolog-nometrics",
    "starlette-zerolog",
    "starlette-MetricsEmitter",
    "starlette-exporter",
    "starlette-pfi",
    "flask-bare",
    "flask-zerolog-nometrics",
    "flask-zerolog",
    "flask-MetricsEmitter",
    "asgi-zerolog-nometrics",
    "asgi-zerolog",
    "wsgi-zerolog-nometrics",
    "wsgi-zerolog",
)
# (label, variant, baseline)
DIFFERENCES = (
    ("Starlette: emitter in the full stack", "starlette-zerolog", "starlette-zerolog-nometrics"),
    ("Starlette: MetricsEmitter alone", "starlette-MetricsEmitter", "starlette-bare"),
    ("Starlette: starlette-exporter (anchor)", "starlette-exporter", "starlette-bare"),
    ("Starlette: prometheus-fastapi-instrumentator (anchor)", "starlette-pfi", "starlette-bare"),
    ("Flask: emitter in the full stack", "flask-zerolog", "flask-zerolog-nometrics"),
    ("Flask: MetricsEmitter alone", "flask-MetricsEmitter", "flask-bare"),
    ("ASGI, no framework: emitter in the full stack", "asgi-zerolog", "asgi-zerolog-nometrics"),
    ("WSGI, no framework: emitter in the full stack", "wsgi-zerolog", "wsgi-zerolog-nometrics"),
)
_PER_REQUEST = re.compile(r"\(([\d.]+) us/request\)")
_INTERLEAVED = re.compile(r"^\S+ ([\d.]+) us/request, \S+ ([\d.]+) us/request")


def _inprocess(args: list[str], pattern: re.Pattern[str]) -> re.Match[str] | None:
    """Run ``inprocess.py ARGS`` and match its summary line; None if the variant is not
    available here."""
    done = subprocess.run(
        [sys.executable, str(INPROCESS), *args], capture_output=True, text=True, check=False
    )
    if done.returncode == SKIPPED:
        return None
    match = pattern.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"{args} failed ({done.returncode}): {done.stderr[-2000:]}")
    return match


def _cpu_us(variant: str, requests: int) -> float | None:
    """CPU µs per request of one run of ``variant``; None if it is not available here."""
    match = _inprocess(["--cpu", variant, str(requests)], _PER_REQUEST)
    return None if match is None else float(match.group(1))


def _interleaved_us(variant: str, baseline: str, requests: int) -> float | None:
    """µs per request of ``variant`` over ``baseline``, interleaved in one interpreter."""
    match = _inprocess(["--interleaved", variant, baseline, str(requests)], _INTERLEAVED)
    return None if match is None else float(match.group(1)) - float(match.group(2))


def _main_interleaved(rounds: int, requests: int) -> None:
    differences: dict[str, list[float]] = {}
    for round_ in range(rounds):
        for label, variant, baseline in DIFFERENCES:
            value = _interleaved_us(variant, baseline, requests)
            if value is not None:
                differences.setdefault(label, []).append(value)
        print(f"  round {round_ + 1}/{rounds} done")
    print(f"\n{'per-request cost, interleaved (wall us, means)':56s} {'median':>7s}  (min-max)")
    for label, values in differences.items():
        spread = f"({min(values):.2f}-{max(values):.2f})"
        print(f"{label:56s} {statistics.median(values):7.2f}  {spread}")


def _reference_us(count: int = 20_000) -> dict[str, float]:
    """CPU µs of one statsd timing+incr and of one labelled prometheus_client observe."""
    from prometheus_client import CollectorRegistry, Histogram
    from statsd import StatsClient

    client = StatsClient("127.0.0.1", 9, prefix="bench")  # discard port: nothing listens
    histogram = Histogram(
        "bench_seconds", "bench", ["method", "route", "status"], registry=CollectorRegistry()
    )
    out: dict[str, float] = {}
    start = time.process_time()
    for _ in range(count):
        client.timing("request.GET.items_id.200", 1.234)
        client.incr("requests.GET.items_id.200")
    out["statsd timing+incr"] = (time.process_time() - start) / count * 1e6
    start = time.process_time()
    for _ in range(count):
        histogram.labels("GET", "/items/{id}", "200").observe(0.001234)
    out["prometheus_client labelled observe"] = (time.process_time() - start) / count * 1e6
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument(
        "--interleaved", action="store_true", help="each difference in one process, interleaved"
    )
    parser.add_argument("variants", nargs="*", default=list(DEFAULT_VARIANTS))
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.requests < 1:
        parser.error("--rounds and --requests must be >= 1")
    if args.interleaved and args.variants != list(DEFAULT_VARIANTS):
        parser.error("--interleaved measures the fixed differences; it takes no variants")
    started = time.monotonic()
    print(f"Python {sys.version.split()[0]}, {args.rounds} rounds x {args.requests} requests")
    if args.interleaved:
        _main_interleaved(args.rounds, args.requests)
        print(f"({time.monotonic() - started:.0f} s)")
        return 0
    samples: dict[str, list[float]] = {v: [] for v in args.variants}
    missing: set[str] = set()
    references: dict[str, list[float]] = {}
    for round_ in range(args.rounds):
        order = args.variants if round_ % 2 == 0 else args.variants[::-1]
        for variant in order:
            if variant in missing:
                continue
            value = _cpu_us(variant, args.requests)
            if value is None:
                missing.add(variant)
                print(f"  {variant}: skipped (optional package not installed)")
                continue
            samples[variant].append(value)
        for name, value in _reference_us().items():
            references.setdefault(name, []).append(value)
        print(f"  round {round_ + 1}/{args.rounds} done")
    median = {v: statistics.median(s) for v, s in samples.items() if s}
    print(f"\n{'variant':32s} {'CPU us/request':>15s}  (median; min-max)")
    for variant, value in median.items():
        low, high = min(samples[variant]), max(samples[variant])
        print(f"{variant:32s} {value:15.2f}  ({low:.2f}-{high:.2f})")
    print(f"\n{'per-request cost':56s} {'CPU us':>7s}")
    for label, variant, baseline in DIFFERENCES:
        if variant in median and baseline in median:
            print(f"{label:56s} {median[variant] - median[baseline]:7.2f}")
    print(f"\n{'reference operation (this process)':56s} {'CPU us':>7s}")
    for name, values in references.items():
        print(f"{name:56s} {statistics.median(values):7.2f}")
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
