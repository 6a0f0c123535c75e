"""The server's settings: defaults, ``DREAMCOMMONS_*`` environment variables, then CLI flags."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dreamcommons.contracts.protocol import MAX_WHISPER_CHARS, SessionId
from dreamcommons.contracts.venues import VenueName

SERVER_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,47}$"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_host_key() -> str:
    return secrets.token_hex(16)


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DREAMCOMMONS_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    venue: str = Field(
        default="sleep-commons", description="the venue of a session the host does not name"
    )
    session_venues: dict[SessionId, VenueName] = Field(
        default_factory=dict, description="a venue per session: {session: venue preset}"
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop", description="the host's event loop (uvloop: faster fan-out)"
    )
    broker: str | None = Field(default=None, description="mqtt://HOST:PORT of the device broker")
    server_name: str = Field(
        default="main",
        pattern=SERVER_NAME_PATTERN,
        description="names this server on the broker: its status is "
        "dreamcommons/v1/servers/NAME/status (online, or its will offline)",
    )
    ha_discovery: bool = Field(
        default=False,
        description="show every session to Home Assistant through MQTT discovery (its "
        "aggregates only; docs/home-assistant.md)",
    )
    device_command_wait_s: float = Field(
        default=5.0, gt=0.0, le=60.0, description="how long a device has to acknowledge a command"
    )
    host_key: str = Field(
        default_factory=new_host_key,
        description="the operator's key: host of every session; generated when not given "
        "(`dreamcommons host` keeps the one it generates in the state directory)",
    )
    secret: str = Field(
        default_factory=new_secret,
        min_length=16,
        description="signs invitations and derives host secrets and join codes; generated when "
        "not given (`dreamcommons host` keeps the one it generates in the state directory, so "
        "they stay valid across restarts)",
    )
    state_dir: Path | None = Field(
        default=None,
        description="where `dreamcommons host` keeps the secret and the operator key it "
        "generates (default: beside the journal, else $XDG_STATE_HOME/dreamcommons)",
    )
    ephemeral_secret: bool = Field(
        default=False,
        description="`dreamcommons host` keeps no secret: codes, invitations and the operator "
        "key it generates die with the process",
    )
    open_sessions: tuple[str, ...] = Field(
        default=(), description="sessions anyone may join without a code; '*' opens all"
    )
    contributions_per_s: float = Field(default=4.0, gt=0.0, description="per participant")
    contribution_burst: int = Field(default=12, ge=1, description="contributions at once")
    # The budget of each other message type a client sends (server/limits.py's BUDGETS):
    # a token bucket per connection, this many a second after a burst of that many.
    shares_per_s: float = Field(default=2.0, gt=0.0)
    share_burst: int = Field(default=10, ge=1)
    host_actions_per_s: float = Field(default=2.0, gt=0.0)
    host_action_burst: int = Field(default=10, ge=1)
    invites_per_s: float = Field(default=0.5, gt=0.0)
    invite_burst: int = Field(default=5, ge=1)
    pairings_per_s: float = Field(default=0.5, gt=0.0)
    pairing_burst: int = Field(default=5, ge=1)
    commands_per_s: float = Field(default=4.0, gt=0.0)
    command_burst: int = Field(default=12, ge=1)
    resyncs_per_s: float = Field(
        default=0.5, gt=0.0, description="snapshots a connection may ask for, after the burst"
    )
    resync_burst: int = Field(default=3, ge=1)
    pings_per_s: float = Field(default=5.0, gt=0.0)
    ping_burst: int = Field(default=20, ge=1)
    people_pages_per_s: float = Field(default=2.0, gt=0.0)
    people_page_burst: int = Field(default=10, ge=1)
    max_connections_per_address: int = Field(default=256, ge=1)
    max_whisper_chars: int = Field(default=280, ge=1, le=MAX_WHISPER_CHARS)
    allowed_origins: tuple[str, ...] = Field(
        default=(), description="origins of pages that may connect besides the server's own"
    )
    max_frame_bytes: int = Field(default=16_384, ge=256, description="larger frames are refused")
    max_errors: int = Field(default=8, ge=1, description="bad frames in the window before closing")
    error_window_s: float = Field(default=10.0, gt=0.0)
    slow_client_bytes: int = Field(
        default=256 * 1024, ge=1024, description="unsent bytes past which a client misses deltas"
    )
    socket_send_bytes: int = Field(
        default=64 * 1024, ge=4096, description="kernel send buffer of each client connection"
    )
    slow_client_grace_s: float = Field(
        default=5.0, gt=0.0, description="how long a client may stay behind before it is dropped"
    )
    compression: bool = Field(
        default=False,
        description="permessage-deflate for clients that offer it: a third fewer bytes, for"
        " about 30 us of CPU per connection and tick (docs/performance.md)",
    )
    journal: Path | None = Field(
        default=None, description="SQLite journal file: sessions survive restarts and crashes"
    )
    snapshot_every_s: float = Field(
        default=30.0, gt=0.0, description="session time between snapshots"
    )
    journal_rush_pace_s: float = Field(
        default=0.010,
        ge=0.0,
        le=0.1,
        description="while joins come faster than commits, the least time between two commits",
    )
    # --- members who left (server.absences) and how fast an address may make new ones ---
    max_members: int = Field(
        default=512, ge=2, description="members a session lists at once (present and away)"
    )
    away_shown_s: float = Field(
        default=900.0, ge=0.0, description="how long a member who left is still listed, away"
    )
    max_away_shown: int = Field(
        default=64, ge=0, description="away members listed at once; the longest away go first"
    )
    resume_window_s: float = Field(
        default=6 * 3600.0, gt=0.0, description="how long one who left may resume as themselves"
    )
    max_resumable: int = Field(
        default=2048, ge=0, description="members who left kept for resuming, per session"
    )
    recent_deltas_s: float = Field(
        default=30.0,
        ge=0.0,
        le=600.0,
        description="session time of recent deltas kept to replay to a client that resumes",
    )
    new_members_per_s: float = Field(
        default=1.0, gt=0.0, description="new members one address may create per second"
    )
    new_member_burst: int = Field(
        default=60, ge=1, description="new members from one address at once"
    )
    # --- wrong credentials (server.guessing) ---
    guess_free_failures: int = Field(
        default=5, ge=0, description="wrong credentials from one address before it is locked out"
    )
    guess_lockout_s: float = Field(
        default=1.0, gt=0.0, description="the first lockout; each further wrong one doubles it"
    )
    guess_max_lockout_s: float = Field(default=300.0, gt=0.0, description="the longest lockout")
    guess_forget_s: float = Field(
        default=900.0, gt=0.0, description="an address's failures are forgotten this long after"
    )
    session_guesses_per_s: float = Field(
        default=1.0, gt=0.0, description="wrong credentials a session takes from everyone"
    )
    session_guess_burst: int = Field(default=100, ge=1, description="of them at once")
    # --- the cluster (docs/cluster.md) ---
    cluster: str | None = Field(
        default=None,
        description="nats://HOST:PORT of the cluster's NATS (with JetStream); none: one process",
    )
    role: Literal["all", "gateway", "engine", "ingest"] = Field(
        default="all",
        description="in a cluster: terminate WebSockets (gateway), own sessions (engine), serve "
        "the devices on --broker (ingest), or all of them",
    )
    node: str | None = Field(
        default=None,
        pattern=SERVER_NAME_PATTERN,
        description="names this process in the cluster (default: the server name)",
    )
    cluster_wait_s: float = Field(
        default=2.0, gt=0.0, le=30.0, description="how long a gateway waits for a session's owner"
    )

    @model_validator(mode="after")
    def _one_kind_of_durability(self) -> ServerSettings:
        if self.cluster is not None and self.journal is not None:
            raise ValueError(
                "--cluster and --journal do not go together: a cluster keeps its sessions in "
                "NATS JetStream (its log, docs/cluster.md), not in a SQLite journal; "
                "drop --journal (or DREAMCOMMONS_JOURNAL)"
            )
        if self.role == "ingest" and (self.cluster is None or self.broker is None):
            raise ValueError(
                "--role ingest serves a cluster's devices: give --cluster and --broker"
            )
        return self
