// Generated from dreamcommons/contracts by dreamcommons.contracts.browser: do not edit.
// Remake: python -m dreamcommons.contracts.browser > server/webclient/contracts.js

export const SUBPROTOCOL = "dreamcommons.v2.json"; // the JSON encoding's subprotocol
export const PROTOCOL_VERSION = 2; // the join frame's v
export const SESSION_ID = /^[a-z0-9][a-z0-9-]{0,63}$/; // a session's name
export const MOTIF_NAME = /^[a-z][a-z0-9-]{0,31}$/; // a motif's name
export const PAIR_CODE = /^[2-9A-HJKMNP-TV-Z]{10}$/; // the code a device shows while it waits
export const DEVICE_ID = /^[a-z0-9][a-z0-9-]{2,47}$/; // a device's id
export const NAME_MAX = 32; // a display name's length
export const WHISPER_MAX = 1000; // the protocol's bound; the welcome's whisper_max is the server's own
export const PEOPLE_PAGE = 200; // the most participants one people page holds
export const ORBIT_PERIOD_S = 90.0; // seconds a motif takes to circle its centre
export const ORBIT_RADIUS = 0.04; // the radius of that circle, in the unit square
export const ROLES = ["dreamer", "waker", "watcher"]; // roles a join page offers
export const ACTIONS = ["light", "sound", "pace", "warmth", "pressure"];
export const HOST_ACTIONS = ["start", "pause", "resume", "advance", "end", "harmonize", "remove"];
export const CLIENT_MESSAGES = ["join", "contribute", "whisper", "resync", "pair", "command", "share", "host", "invite", "ping", "people", "playback"]; // types a client sends
export const SERVER_MESSAGES = ["welcome", "snapshot", "delta", "ack", "error", "paired", "command_result", "invitation", "pong", "notice", "people"]; // types it receives
export const ERROR_CODES = ["malformed_frame", "unknown_type", "invalid_field", "frame_too_large", "unsupported_version", "not_joined", "already_joined", "bad_resume_token", "forbidden", "pairing_refused", "no_devices", "invitation_required", "bad_invitation", "invitation_expired", "rate_limited", "whisper_too_long", "too_many_connections", "bad_origin", "internal", "journal_unavailable", "session_full", "session_moving"]; // an error frame's code
export const NOTICE_CODES = ["journal_unavailable", "journal_available"]; // a notice's code

/** The application close codes (4000-4999) the server ends a connection with. */
export const CLOSE = Object.freeze({
  TOO_MANY_ERRORS: 4000,
  SERVER_SHUTDOWN: 4001,
  SESSION_CLOSED: 4002,
  REPLACED: 4003,
  REMOVED: 4004,
  TOO_MANY_CONNECTIONS: 4005,
  SLOW_CONSUMER: 4006,
});
