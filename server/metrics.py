"""The server's Prometheus metrics, served at ``/metrics`` on the WebSocket port.

Counters and gauges are read from the sessions' and the device gateway's own statistics at
scrape time, so the hot paths (contributions, ticks, MQTT messages) pay nothing for them;
only the tick duration is a histogram, observed once per tick. Each server has its own
registry, so several servers in one process (tests) do not mix their figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.metrics_core import Metric

if TYPE_CHECKING:
    from dreamcommons.server.devices.hub import DeviceHub
    from dreamcommons.server.journal import Journal
    from dreamcommons.server.limits import Limits
    from dreamcommons.server.session import DreamSession

__all__ = ["CONTENT_TYPE", "ServerMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

# A 10 Hz tick has 100 ms; most ticks take a few milliseconds, so the buckets are fine there.
_TICK_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25,
)  # fmt: skip


class ServerMetrics:
    """One server's registry: the tick histogram and a collector over its live statistics."""

    def __init__(
        self,
        sessions: Callable[[], Iterable[DreamSession]],
        devices: DeviceHub,
        limits: Limits,
        journal: Journal | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.tick_seconds = Histogram(
            "dreamcommons_tick_seconds",
            "Time to merge, encode and broadcast one tick.",
            buckets=_TICK_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_LiveStatistics(sessions, devices, limits, journal))

    def render(self) -> bytes:
        """The text exposition format of every metric, for one scrape."""
        return generate_latest(self.registry)


class _LiveStatistics:
    """Reads the counters that sessions and the device gateway keep anyway."""

    def __init__(
        self,
        sessions: Callable[[], Iterable[DreamSession]],
        devices: DeviceHub,
        limits: Limits,
        journal: Journal | None,
    ) -> None:
        self._sessions = sessions
        self._devices = devices
        self._limits = limits
        self._journal = journal

    def collect(self) -> Iterator[Metric]:
        sessions = list(self._sessions())
        yield _gauge("dreamcommons_sessions", "Open sessions.", len(sessions))
        yield _gauge(
            "dreamcommons_connections",
            "Open WebSocket connections that receive the dreamscape.",
            sum(s.listener_count() for s in sessions),
        )
        yield _gauge(
            "dreamcommons_participants",
            "Participants present (connected) in any session.",
            sum(s.present_count() for s in sessions),
        )
        accepted = CounterMetricFamily(
            "dreamcommons_contributions_accepted",
            "Contributions and whispers accepted.",
            labels=["kind"],
        )
        accepted.add_metric(["motif"], sum(s.stats.contributions_accepted for s in sessions))
        accepted.add_metric(["whisper"], sum(s.stats.whispers_accepted for s in sessions))
        yield accepted
        refused = CounterMetricFamily(
            "dreamcommons_frames_refused",
            "Frames refused with an error frame, by error code.",
            labels=["reason"],
        )
        reasons: dict[str, int] = {}
        for session in sessions:
            for reason, count in session.stats.refused.items():
                reasons[reason] = reasons.get(reason, 0) + count
        for reason, count in sorted(reasons.items()):
            refused.add_metric([reason], count)
        yield refused
        limited = CounterMetricFamily(
            "dreamcommons_limits_refused",
            "Requests refused by a limit (rate, connections, whisper length, origin), by code.",
            labels=["code"],
        )
        for code, count in sorted(self._limits.refused.items()):
            limited.add_metric([code], count)
        yield limited
        yield _counter("dreamcommons_ticks", "Ticks merged.", sum(s.stats.ticks for s in sessions))
        yield _counter(
            "dreamcommons_broadcast_frames",
            "Frames sent to listeners by the tick broadcast.",
            sum(s.stats.broadcast_frames for s in sessions),
        )
        yield _counter(
            "dreamcommons_broadcast_bytes",
            "Bytes sent to listeners by the tick broadcast.",
            sum(s.stats.broadcast_bytes for s in sessions),
        )
        resumes = CounterMetricFamily(
            "dreamcommons_resumes",
            "Joins that said the state they held (since): answered with the deltas they missed "
            "(by_sequence), or with the full state (full_state).",
            labels=["how"],
        )
        resumes.add_metric(["by_sequence"], sum(s.stats.resumed_by_sequence for s in sessions))
        resumes.add_metric(["full_state"], sum(s.stats.resumed_with_state for s in sessions))
        yield resumes
        yield from self._device_metrics()
        yield from self._journal_metrics()

    def _journal_metrics(self) -> Iterator[Metric]:
        if self._journal is None:
            return
        stats = self._journal.stats
        yield _gauge(
            "dreamcommons_journal_healthy", "1 while commits succeed, 0 while they fail.",
            1.0 if self._journal.healthy else 0.0,
        )  # fmt: skip
        yield SummaryMetricFamily(
            "dreamcommons_journal_commit_seconds",
            "Group commits (one per tick) and the time they took.",
            count_value=stats.commits,
            sum_value=stats.total_commit_s,
        )
        yield _gauge(
            "dreamcommons_journal_commit_seconds_max", "The longest commit so far.",
            stats.max_commit_s,
        )  # fmt: skip
        yield _counter(
            "dreamcommons_journal_events", "Events made durable.", stats.events_committed
        )
        yield _counter(
            "dreamcommons_journal_commit_failures", "Commits that failed.", stats.commit_failures
        )

    def _device_metrics(self) -> Iterator[Metric]:
        registry = self._devices.registry
        if self._devices.gateway is not None:
            yield _gauge(
                "dreamcommons_broker_connected",
                "1 while the server hears the device broker, 0 while it does not.",
                1.0 if registry.broker_connected else 0.0,
            )
        online = registry.online_count() if self._devices.gateway is not None else 0
        if online is not None:  # absent while the broker is away: nobody knows
            yield _gauge(
                "dreamcommons_devices_online", "Devices heard live, and not lost or gone since.",
                online,
            )  # fmt: skip
        yield _counter(
            "dreamcommons_samples_lost",
            "Biometric samples lost on the way, counted from the devices' sequence numbers.",
            sum(d.lost for d in registry.devices.values()),
        )
        gateway = self._devices.gateway
        if gateway is None:
            return
        yield _counter(
            "dreamcommons_mqtt_messages", "MQTT messages received.", gateway.stats.messages
        )
        yield _counter(
            "dreamcommons_mqtt_samples", "Biometric samples received.", gateway.stats.samples
        )
        rejected = CounterMetricFamily(
            "dreamcommons_mqtt_rejected", "MQTT messages dropped, by reason.", labels=["reason"]
        )
        for reason, count in sorted(gateway.stats.rejected.items()):
            rejected.add_metric([reason], count)
        yield rejected


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)
