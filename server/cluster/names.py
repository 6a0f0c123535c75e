"""Every name the cluster uses in NATS, in one place: buckets, the events stream, subjects.

    dreamcommons-leases          KV bucket: session -> its owner (``lease``), TTL'd
    DREAMCOMMONS_EVENTS          stream (file storage) of ``dreamcommons.events.>``
    dreamcommons.events.S        session S's events, in order (``log``)
    dreamcommons-snapshots       object store: session S -> its latest snapshot (``log``)
    dreamcommons-members         KV bucket: S.PID (hex) -> a member of S (``members``)
    dreamcommons.deltas.S.E      S's deltas, encoded once in encoding E (``msgpack``, ``json``)
    dreamcommons.owner.S.contributions   a gateway's frame for S, to S's owner (request/reply)
    dreamcommons.owner.S.requests        a gateway's join, message or notice for S's owner
    dreamcommons.placement               "own S" to one engine (queue group dreamcommons-engines)
    dreamcommons.gateways.G              to gateway G: close one of its connections
    dreamcommons.gateways-alive          every gateway's heartbeat, for the owners
    dreamcommons.owner.S.samples         device samples and device counts for S, from ingests
    dreamcommons.devices.commands        a pairing, command or pacing, from S's owner to one
                                         ingest process (queue group dreamcommons-ingest)
    dreamcommons-pairings        KV bucket: device -> msgpack {owner "S/PID", verifier} (``ingest``)

A session id is one subject token as it is: ``SESSION_ID_PATTERN`` allows lowercase letters,
digits and ``-`` only (no ``.``, ``*``, ``>`` or space), and is a valid KV key and object name
too. ``session_token`` checks it anyway, so that a bad id is a clear error here rather than a
message on a wrong subject.
"""

from __future__ import annotations

import re
from typing import Final

from dreamcommons.contracts.protocol import SESSION_ID_PATTERN, Encoding

LEASE_BUCKET: Final = "dreamcommons-leases"
EVENTS_STREAM: Final = "DREAMCOMMONS_EVENTS"
EVENTS_PREFIX: Final = "dreamcommons.events"
SNAPSHOT_BUCKET: Final = "dreamcommons-snapshots"
MEMBERS_BUCKET: Final = "dreamcommons-members"
DELTAS_PREFIX: Final = "dreamcommons.deltas"
OWNER_PREFIX: Final = "dreamcommons.owner"
DEVICE_COMMANDS: Final = "dreamcommons.devices.commands"
PLACEMENT: Final = "dreamcommons.placement"
ENGINE_QUEUE: Final = "dreamcommons-engines"
"""The queue group of the engines: each placement request reaches one of them."""
GATEWAYS_PREFIX: Final = "dreamcommons.gateways"
GATEWAYS_ALIVE: Final = "dreamcommons.gateways-alive"
INGEST_QUEUE: Final = "dreamcommons-ingest"
"""The queue group of the ingest processes: each device request reaches one of them. Also
their MQTT shared subscription's group: each device's sample batch reaches one of them."""
PAIRINGS_BUCKET: Final = "dreamcommons-pairings"

_SESSION_ID = re.compile(SESSION_ID_PATTERN)


def session_token(session: str) -> str:
    """``session`` as a subject token; ``ValueError`` if it is not a session id."""
    if _SESSION_ID.fullmatch(session) is None:
        raise ValueError(f"not a session id: {session!r} (expected {SESSION_ID_PATTERN})")
    return session


def events_subject(session: str) -> str:
    return f"{EVENTS_PREFIX}.{session_token(session)}"


def events_subjects() -> str:
    """What the events stream holds: every session's events subject."""
    return f"{EVENTS_PREFIX}.>"


def encoding_token(encoding: Encoding) -> str:
    """The subject token of an encoding: the last part of its subprotocol (``msgpack``)."""
    return encoding.value.rsplit(".", 1)[-1]


def deltas_subject(session: str, encoding: Encoding) -> str:
    return f"{DELTAS_PREFIX}.{session_token(session)}.{encoding_token(encoding)}"


def contributions_subject(session: str) -> str:
    return f"{OWNER_PREFIX}.{session_token(session)}.contributions"


def requests_subject(session: str) -> str:
    return f"{OWNER_PREFIX}.{session_token(session)}.requests"


def gateway_subject(gateway: str) -> str:
    """Where gateway ``gateway`` (a process id of the cluster: a session id's alphabet) listens."""
    return f"{GATEWAYS_PREFIX}.{session_token(gateway)}"


def samples_subject(session: str) -> str:
    return f"{OWNER_PREFIX}.{session_token(session)}.samples"


def pairing_key(device: str) -> str:
    """A device id as a key: device ids are lowercase letters, digits and ``-``."""
    return session_token(device)


def lease_key(session: str) -> str:
    return session_token(session)


def member_key(session: str, pid: str) -> str:
    """A member's key: the participant id in hex, so that any id is a valid key."""
    return f"{session_token(session)}.{pid.encode().hex()}"


def member_keys(session: str) -> str:
    return f"{session_token(session)}.*"


def snapshot_name(session: str) -> str:
    return session_token(session)
