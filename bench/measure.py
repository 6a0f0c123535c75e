"""Readings the bench takes of other processes (/proc CPU and memory, and /metrics) and of its
own CPU."""

from __future__ import annotations

import math
import os
import resource
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def own_cpu_seconds() -> float:
    """User plus system CPU time this process (every thread) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def pin(pid: int, core: int) -> bool:
    """Keep a process on one core, when the machine has it; False when it cannot be done."""
    if core >= (os.cpu_count() or 1):
        return False
    os.sched_setaffinity(pid, {core})
    return True


@dataclass(frozen=True, slots=True)
class Scrape:
    """One reading of a server's /metrics: every sample by name and labels."""

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]

    @classmethod
    def of(cls, port: int) -> Scrape:
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return cls(samples)

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def buckets(self, name: str) -> list[tuple[float, float]]:
        """A histogram's cumulative buckets, (upper bound, count), in order."""
        found = [
            (float(dict(labels)["le"]), count)
            for (sample, labels), count in self.samples.items()
            if sample == f"{name}_bucket"
        ]
        return sorted(found)


def histogram_quantile(q: float, before: Scrape, after: Scrape, name: str) -> float | None:
    """The q-quantile of what a histogram saw between two scrapes, interpolated within its
    bucket as Prometheus' ``histogram_quantile`` does; None when it saw nothing."""
    start = dict(before.buckets(name))
    buckets = [(bound, count - start.get(bound, 0.0)) for bound, count in after.buckets(name)]
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, cumulative
    return lower


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank q-quantile of ``values``; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]
