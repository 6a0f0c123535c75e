// One participant's link to a session over a WebSocket: join, resume with the token kept per
// tab, follow the dreamscape (asking for a snapshot after a gap), send requests with their
// cids, and reconnect with jittered exponential backoff when the link drops.

import { SessionClock } from "/static/motion.js";
import {
  appliedOf,
  CLOSE,
  PROTOCOL_VERSION,
  StateTracker,
  SUBPROTOCOL,
} from "/static/protocol.js";

// Closes after which coming back would be wrong: this identity was resumed in another tab,
// or the host took this participant out of the session.
const CLOSE_REPLACED = CLOSE.REPLACED;
const CLOSE_REMOVED = CLOSE.REMOVED;
const BACKOFF_FIRST_S = 0.25;
const BACKOFF_CAP_S = 5;
const SILENCE_LIMIT_MS = 6000; // a delta comes every tick: a long silence means a dead link

/**
 * Seconds before reconnect attempt `attempt` (0-based): 0.25 s doubling up to 5 s, each
 * jittered by ±25 % (never above the cap) so that a crowd of pages does not return at once.
 */
export function backoffSeconds(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_CAP_S, BACKOFF_FIRST_S * 2 ** attempt);
  return Math.min(BACKOFF_CAP_S, base * (0.75 + 0.5 * random()));
}

/** Who we are in one session, kept per tab so that a reload resumes the same participant. */
class Identity {
  constructor(storage, session, role, name) {
    this.storage = storage;
    this.key = `dreamcommons:${session}:${role}:${name}`;
    let saved = {};
    try {
      saved = JSON.parse(storage?.getItem(this.key) ?? "{}") ?? {};
    } catch {
      saved = {}; // storage disabled or garbled: start afresh
    }
    this.resume = typeof saved.resume === "string" ? saved.resume : null;
    this.nextCid = Number.isSafeInteger(saved.nextCid) && saved.nextCid > 0 ? saved.nextCid : 1;
  }

  takeCid() {
    const cid = this.nextCid;
    this.nextCid += 1;
    this.save();
    return cid;
  }

  save() {
    try {
      const saved = { resume: this.resume, nextCid: this.nextCid };
      this.storage?.setItem(this.key, JSON.stringify(saved));
    } catch {
      // a full or disabled storage only costs the resume after a reload
    }
  }
}

/**
 * One participant's link to a session. Handlers (all optional):
 * onStatus(status, detail, error) with status connecting | connected | reconnecting | refused
 * (error: the join's error frame) | replaced | removed; a server's notice (its journal cannot
 * be written, or writes again) comes as connected with the notice's message as detail;
 * onState(state, why) after a welcome, an applied delta or a snapshot;
 * onReply(message, request) for ack, paired, command_result, invitation and people;
 * onApplied(cid) when a delta merged this participant's contributions up to cid, and again
 * after an ack for one it had already merged (with a journal the delta comes first);
 * onRefused(error, request) for an error frame (request is null when it answers nothing we sent).
 */
export class DreamConnection {
  constructor(
    { url, session, name, role, key = null, code = null, token = null, storage = null },
    handlers = {},
  ) {
    this.url = url;
    this.session = session;
    this.name = name;
    this.role = role;
    this.key = key; // the host secret, for role "host"
    this.code = code; // the session's join code, for a private session
    this.token = token; // or an invitation from its host
    this.handlers = handlers;
    this.identity = new Identity(storage, session, role, name);
    this.participant = null;
    this.appliedUpTo = 0; // the highest of this participant's cids a delta merged
    this.tickHz = 10;
    this.clock = new SessionClock(); // the session's time, from the newest frame's t
    this.tracker = null;
    this.ws = null;
    this.joined = false;
    this.resumesBySequence = 0; // reconnections that kept the state and took the missed deltas
    this.attempt = 0;
    this.stopped = false;
    this.pending = new Map();
    this.retryTimer = null;
    this.lastFrameAt = 0;
    this.watchdog = null;
    this.steered = false; // a served replay's own playback was moved (see playback())
  }

  get state() {
    return this.tracker?.state ?? null;
  }

  start() {
    this.stopped = false;
    this.watchdog = setInterval(() => this.checkSilence(), 1000);
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    this.ws?.close(1000, "bye");
  }

  contribute({ motif, intensity, valence, arousal, private: secret = false }) {
    const fields = { type: "contribute", motif, intensity, valence, arousal, private: secret };
    return this.request(fields, secret ? `“${motif}” (private)` : `“${motif}”`);
  }

  share(level) {
    return this.request({ type: "share", level }, `share ${Math.round(level * 100)} %`);
  }

  showStage(show) {
    const label = show ? "showing my sleep stage" : "hiding my sleep stage";
    return this.request({ type: "share", show_stage: show }, label);
  }

  host(action, participant = null) {
    const label = participant ? `${action} ${participant}` : action;
    return this.request({ type: "host", action, participant }, label);
  }

  whisper(text) {
    return this.request({ type: "whisper", text }, "whisper");
  }

  invite(role, ttlS) {
    return this.request({ type: "invite", role, ttl_s: ttlS }, `invitation for a ${role}`);
  }

  /** A page of everyone listed (a large room's states list only the few who matter). */
  people(offset, limit) {
    return this.request({ type: "people", offset, limit }, "the list of everyone");
  }

  pair(code) {
    return this.request({ type: "pair", code }, `pairing code ${code}`);
  }

  command(device, action, value) {
    return this.request({ type: "command", device, action, value }, `${action} on ${device}`);
  }

  /** Send a request with a fresh cid; the cid, or null when not connected. */
  request(fields, label) {
    if (!this.joined) return null;
    const cid = this.identity.takeCid();
    this.pending.set(cid, { type: fields.type, label });
    this.send({ ...fields, cid });
    return cid;
  }

  send(message) {
    this.ws?.send(JSON.stringify(message));
  }

  /** On a served replay: go to `at` seconds of the night and/or play at `speed` (0: paused);
   * the answer is a snapshot of that moment, taken even when it is older than the state held. */
  playback({ at = null, speed = null } = {}) {
    this.steered = true;
    this.send({ type: "playback", at, speed });
  }

  // --- the socket ------------------------------------------------------------------------

  connect() {
    this.emit("onStatus", this.attempt === 0 ? "connecting" : "reconnecting", "");
    const ws = new WebSocket(this.url, SUBPROTOCOL);
    this.ws = ws;
    ws.addEventListener("open", () => this.join());
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = performance.now();
      this.onFrame(event.data);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws === ws) this.onClosed(event.code);
    });
  }

  join() {
    this.lastFrameAt = performance.now();
    const join = {
      type: "join",
      v: PROTOCOL_VERSION,
      session: this.session,
      name: this.name,
      role: this.role,
      resume: this.identity.resume,
    };
    if (this.key !== null) join.key = this.key;
    if (this.code !== null) join.code = this.code;
    if (this.token !== null) join.token = this.token;
    const held = this.tracker?.state;
    if (held?.epoch && (this.identity.resume !== null || this.role === "watcher")) {
      // coming back: the server sends only the deltas after what we hold, if it still can
      join.since = { epoch: held.epoch, seq: held.seq };
    }
    this.send(join);
  }

  onClosed(code) {
    this.ws = null;
    this.joined = false;
    const lost = [...this.pending.values()];
    this.pending.clear();
    for (const request of lost) {
      const error = { code: "connection_lost", message: "the connection dropped before an answer" };
      this.emit("onRefused", error, request);
    }
    if (this.stopped) return;
    if (code === CLOSE_REPLACED || code === CLOSE_REMOVED) {
      this.stopped = true;
      if (code === CLOSE_REMOVED) this.identity.resume = null; // the token is void now
      this.identity.save();
      const [status, why] = code === CLOSE_REPLACED
        ? ["replaced", "this identity was resumed in another tab"]
        : ["removed", "the host took you out of this session"];
      this.emit("onStatus", status, why);
      return;
    }
    const delay = backoffSeconds(this.attempt);
    this.attempt += 1;
    this.emit("onStatus", "reconnecting", `retrying in ${delay.toFixed(1)} s`);
    this.retryTimer = setTimeout(() => this.connect(), delay * 1000);
  }

  checkSilence() {
    const open = this.ws?.readyState === WebSocket.OPEN;
    const limit = Math.max(SILENCE_LIMIT_MS, 5000 / this.tickHz);
    const quiet = performance.now() - this.lastFrameAt;
    if (open && this.joined && quiet > limit / 2) this.send({ type: "ping", n: 0 }); // paused?
    if (open && quiet > limit) {
      const ws = this.ws;
      this.ws = null; // stop listening to it: its close may take long on a dead link
      ws.close();
      this.onClosed(1006);
    }
  }

  onFrame(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return; // the server only sends JSON; anything else is not ours to act on
    }
    switch (message?.type) {
      case "welcome":
        return this.onWelcome(message);
      case "delta":
        return this.onDelta(message);
      case "snapshot":
        // A steered replay's snapshots are this connection's own place, sent in order with
        // its deltas: taken as they come, also when the night went back.
        if (this.steered ? this.tracker?.jump(message.state) : this.tracker?.onSnapshot(message.state)) {
          this.clock.heard(message.state.t);
          this.emit("onState", this.tracker.state, "snapshot");
        }
        return undefined;
      case "ack":
        this.emit("onReply", message, this.settle(message.cid));
        if (message.cid <= this.appliedUpTo) this.emit("onApplied", this.appliedUpTo);
        return undefined;
      case "paired":
      case "command_result":
      case "invitation":
      case "people":
        return this.emit("onReply", message, this.settle(message.cid));
      case "error":
        return this.onError(message);
      case "notice": // the server's news, such as its journal writing again
        return this.emit("onStatus", "connected", message.message);
      default:
        return undefined; // pong, or a message type newer than this page
    }
  }

  onWelcome(message) {
    this.joined = true;
    this.attempt = 0;
    if (message.participant !== this.participant) this.appliedUpTo = 0;
    this.participant = message.participant;
    this.joinCode = message.join_code ?? null; // the host's: the code that lets others in
    this.tickHz = message.tick_hz > 0 ? message.tick_hz : 10;
    this.whisperMax = message.whisper_max ?? null; // the server's own limit, when it says
    this.identity.resume = message.resume;
    this.identity.save();
    this.emit("onStatus", "connected", "");
    if (message.state == null) {
      // resumed by sequence: keep the state held; the deltas after it follow this welcome
      this.resumesBySequence += 1;
      this.tracker?.resumed();
      if (this.tracker?.state.seq !== message.resumed_from) this.send({ type: "resync" });
      return;
    }
    this.tracker = new StateTracker(message.state);
    this.clock.heard(message.state.t);
    this.emit("onState", this.tracker.state, "welcome");
  }

  onDelta(delta) {
    if (!this.tracker) return;
    const outcome = this.tracker.onDelta(delta);
    if (outcome === "gap") this.send({ type: "resync" });
    if (outcome !== "applied") return;
    this.clock.heard(delta.t);
    this.emit("onState", this.tracker.state, "delta");
    const mine = appliedOf(delta)[this.participant];
    if (mine === undefined) return;
    this.appliedUpTo = Math.max(this.appliedUpTo, mine);
    this.emit("onApplied", mine);
  }

  onError(error) {
    if (!this.joined) {
      if (error.code === "bad_resume_token" && this.identity.resume !== null) {
        // The server does not know us (it restarted, or forgot): join as someone new.
        this.identity.resume = null;
        this.identity.save();
        this.join();
        return;
      }
      // Any other refusal of a join would only repeat itself: stop and say why.
      this.stopped = true;
      this.emit("onStatus", "refused", `${error.code}: ${error.message}`, error);
      this.ws?.close(1000, "refused");
      return;
    }
    const request = typeof error.ref === "number" ? this.settle(error.ref) : null;
    this.emit("onRefused", error, request);
  }

  settle(cid) {
    const request = this.pending.get(cid) ?? null;
    this.pending.delete(cid);
    return request;
  }

  emit(handler, ...args) {
    this.handlers[handler]?.(...args);
  }
}
