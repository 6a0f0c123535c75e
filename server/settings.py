"""The server's settings: defaults, ``DREAMCOMMONS_*`` environment variables, then CLI flags."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DREAMCOMMONS_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    venue: str = "sleep-commons"
    broker: str | None = Field(default=None, description="mqtt://HOST:PORT of the device broker")
    host_key: str = Field(
        default_factory=lambda: secrets.token_urlsafe(12),
        description="lets a client join as host; generated and printed when not given",
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
    journal: Path | None = Field(
        default=None, description="SQLite journal file: sessions survive restarts and crashes"
    )
    snapshot_every_s: float = Field(
        default=30.0, gt=0.0, description="session time between snapshots"
    )
