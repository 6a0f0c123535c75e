"""The CPU time of a contribution's own path through a journaled session, in one process.

    python -m bench.contribution_cpu                 # 2,000 members, 20 rounds
    python -m bench.contribution_cpu --profile       # and cProfile's top functions

Every member contributes once a round, as a decoded frame handed to the session (``decode``,
``contribute``, the ack queued); then the session ticks and the journal commits, releasing
the acks. No sockets: the acks go to connections that are closed already, so that what is
measured is the server's own work for a contribution, not the kernel's. Prints the CPU
microseconds per contribution (``time.process_time``), its share of the ticks and commits in.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

import msgpack
from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from dreamcommons.contracts.errors import ProtocolError
from dreamcommons.contracts.protocol import Contribute, Encoding, Join, decode_client
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.absences import AbsencePolicy
from dreamcommons.server.devices.hub import DeviceHub
from dreamcommons.server.journal import Journal
from dreamcommons.server.journal.session_journal import SessionJournal
from dreamcommons.server.local_session import LocalSession
from dreamcommons.server.session import DreamSession
from dreamcommons.server.session_port import Reply


class _Closed:
    """A connection that closed: ``websockets.broadcast`` skips it without writing."""

    class protocol:  # noqa: N801 (the attribute websockets reads)
        state = State.CLOSED


async def measure(members: int, rounds: int, profile: cProfile.Profile | None) -> float:
    """CPU seconds per contribution over ``rounds`` rounds of ``members`` contributions."""
    venue = load_venue("sleep-commons")
    closed = cast(ServerConnection, _Closed())
    with tempfile.TemporaryDirectory(prefix="dreamcommons-contribution-") as scratch:
        async with Journal(Path(scratch) / "dreams.sqlite") as journal:
            durable = SessionJournal(journal, "commons", venue, snapshot_every=300)
            room = AbsencePolicy(max_members=members)
            session = DreamSession("commons", venue, journal=durable, absences=room)
            port = LocalSession(session, DeviceHub(None, lambda _: None))  # no devices
            admitted = await asyncio.gather(
                *(
                    session.join(Join(session="commons", name=f"n{n}"), closed, Encoding.MSGPACK)
                    for n in range(members)
                )
            )
            replies = [Reply(closed, Encoding.MSGPACK, _refused) for _ in admitted]
            t = 0.1
            session.tick(t)
            await durable.tick_committed(t, session.engine)
            gc.freeze()  # as the host does (``server.collector``)
            spent = 0.0
            for cid in range(1, rounds + 1):
                frame = msgpack.packb(
                    {"type": "contribute", "cid": cid, "motif": "moon", "valence": 0.1,
                     "arousal": 0.5, "intensity": 0.7}
                )  # fmt: skip
                started = time.process_time()
                if profile is not None:
                    profile.enable()
                for admission, reply in zip(admitted, replies, strict=True):
                    message = decode_client(frame, Encoding.MSGPACK)
                    assert isinstance(message, Contribute)
                    await port.contribute(admission.member, message, reply)
                t += 0.1
                session.tick(t)
                await durable.tick_committed(t, session.engine)
                if profile is not None:
                    profile.disable()
                spent += time.process_time() - started
            gc.unfreeze()
    return spent / (rounds * members)


def _refused(error: ProtocolError) -> None:
    raise RuntimeError(f"a contribution was refused: {error}")


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench.contribution_cpu", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--members", type=int, default=2000, help="members contributing (2,000)")
    parser.add_argument("--rounds", type=int, default=20, help="contributions each (20)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    args = parser.parse_args()
    profile = cProfile.Profile() if args.profile else None
    per = asyncio.run(measure(args.members, args.rounds, profile))
    print(f"{per * 1e6:.1f} us CPU per contribution")
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
