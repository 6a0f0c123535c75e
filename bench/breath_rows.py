"""What showing the sleepers' breathing costs the wire: the participant rows a night sends.

    python -m bench.breath_rows --sleepers 10 --seconds 600

Simulated pods (``firmware_sim``'s sleepers, one reading each 0.2 s) go through the server's
own estimator into an engine ticking ten times a second, every sleeper showing their stage
and so their breath. Counted: the estimates the engine hears, the participant rows with a
breath that its deltas carry (each is sent again only when clients' extrapolation strays
past the engine's bounds), and those rows' bytes in JSON. No sockets, no clock: the same
numbers on every machine.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from dreamcommons.contracts.device_protocol import BioSample, SampleBatch
from dreamcommons.contracts.protocol import ParticipantView
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.device import reading_fields
from dreamcommons.firmware_sim.physiology import Sample, Sleeper
from dreamcommons.server.devices.sleepers import SleeperEstimates, as_event
from dreamcommons.server.engine import DreamEngine, ParticipantJoined, ShareChanged

SAMPLE_S = 0.2
TICK_EVERY = 0.1


@dataclass(frozen=True, slots=True)
class BreathRows:
    sleepers: int
    seconds: float
    reports: int
    ticks: int
    rows: int
    row_bytes: int

    def per_sleeper_minute(self) -> float:
        return self.rows / self.sleepers / self.seconds * 60.0


def _reading(s: Sample) -> BioSample:
    return BioSample.model_validate(reading_fields("pod", s, s.t))


def breath_rows(sleepers: int, seconds: float) -> BreathRows:
    engine = DreamEngine(load_venue("sleep-commons"), "breaths")
    bodies = [Sleeper(i) for i in range(sleepers)]
    estimates = SleeperEstimates()
    for i in range(sleepers):
        engine.apply(ParticipantJoined(participant=f"p{i}", name=f"S{i}", role="dreamer"))
        engine.apply(ShareChanged(participant=f"p{i}", level=None, show_stage=True))
    reports = ticks = rows = row_bytes = 0
    per_sample = round(SAMPLE_S / TICK_EVERY)
    for step in range(round(seconds / TICK_EVERY)):
        t = round(step * TICK_EVERY, 3)
        if step % per_sample == 0:
            for i, body in enumerate(bodies):
                batch = SampleBatch(seq=step, bd_seq=0, samples=(_reading(body.advance(SAMPLE_S)),))
                estimate = estimates.add(f"breaths/p{i}", batch, arrived=t)
                if estimate is not None:
                    reports += 1
                    engine.apply(as_event(f"p{i}", estimate, t))
        _, delta = engine.tick(t)
        ticks += 1
        breathing = [p for p in delta.participants if p.breath is not None]
        rows += len(breathing)
        row_bytes += sum(len(_json(p)) for p in breathing)
    return BreathRows(sleepers, seconds, reports, ticks, rows, row_bytes)


def _json(view: ParticipantView) -> str:
    return view.model_dump_json()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sleepers", type=int, default=10, help="simulated sleepers sharing")
    parser.add_argument("--seconds", type=float, default=600.0, help="session seconds to run")
    args = parser.parse_args(argv)
    r = breath_rows(args.sleepers, args.seconds)
    print(
        f"{r.sleepers} sleepers, {r.seconds:g} s, {r.ticks} ticks: {r.reports} estimates, "
        f"{r.rows} breath rows ({r.rows / max(1, r.reports):.0%} of the estimates, "
        f"{r.per_sleeper_minute():.1f} a sleeper a minute), {r.row_bytes} bytes of JSON"
    )


if __name__ == "__main__":
    main()
