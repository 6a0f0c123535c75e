"""A cluster process's part of ``/metrics``: its role, the sessions it owns and relays,
whether NATS and its leases are there, and the device batches it routed (an ingest's) or
folded (an engine's). Read at scrape time, like the rest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

if TYPE_CHECKING:
    from dreamcommons.server.cluster.node import ClusterNode


class ClusterStatistics:
    def __init__(self, node: ClusterNode) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        node = self.node
        info = GaugeMetricFamily(
            "dreamcommons_cluster_node", "This process in the cluster.", labels=["node", "role"]
        )
        info.add_metric([node.id, node.role], 1)
        yield info
        connected = node.nc is not None and node.nc.is_connected
        yield GaugeMetricFamily(
            "dreamcommons_cluster_nats_connected", "1 while NATS is connected.", value=connected
        )
        engine, gateway = node.engine, node.gateway
        yield GaugeMetricFamily(
            "dreamcommons_cluster_sessions_owned",
            "Sessions this engine owns, each under its lease.",
            value=0 if engine is None else len(engine.owned),
        )
        yield CounterMetricFamily(
            "dreamcommons_cluster_leases_lost",
            "Leases this engine lost (not refreshed in time, or taken): its session closed here.",
            value=0 if engine is None else engine.leases_lost,
        )
        relays = [] if gateway is None else gateway.relays
        yield GaugeMetricFamily(
            "dreamcommons_cluster_sessions_relayed",
            "Sessions whose deltas this gateway forwards.",
            value=len(relays),
        )
        yield GaugeMetricFamily(
            "dreamcommons_cluster_connections",
            "Connections on this gateway that receive a session's forwarded deltas.",
            value=sum(relay.listener_count() for relay in relays),
        )
        ingest, devices = node.ingest, node.devices
        yield CounterMetricFamily(
            "dreamcommons_cluster_device_batches_routed",
            "Sample batches of paired devices this ingest heard and sent to their session's owner.",
            value=0 if ingest is None else ingest.batches_routed,
        )
        counts = None if devices is None else devices.counts
        yield CounterMetricFamily(
            "dreamcommons_cluster_device_batches",
            "Sample batches the sessions this engine owns folded, from every ingest.",
            value=0 if counts is None else counts.batches,
        )
        yield GaugeMetricFamily(
            "dreamcommons_cluster_device_samples_lost",
            "Samples missing from the sequences of those batches (counted where they all meet).",
            value=0 if counts is None else counts.lost,
        )
