// The dreamcommons wire protocol as the browser speaks it (JSON text frames over the
// "dreamcommons.v2.json" subprotocol): how a delta applies to the dreamscape, and sequence
// tracking. Mirrors dreamcommons/contracts/protocol.py (DreamscapeState.apply) and
// client/tracker.py; connection.js carries it over a WebSocket. The constants come from
// contracts.js, generated from the Python contracts.

export * from "/static/contracts.js";


const byKey = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** The state after `delta`, exactly as DreamscapeState.apply computes it. */
export function applyDelta(state, delta) {
  const motifs = new Map(state.motifs.map((m) => [m.name, m]));
  for (const name of delta.removed ?? []) motifs.delete(name);
  // a motif update carries what changed, as of the delta's t; one not held arrives whole
  for (const m of delta.motifs ?? []) {
    motifs.set(m.name, { ...motifs.get(m.name), ...m, t: delta.t });
  }
  const people = new Map(state.participants.map((p) => [p.id, p]));
  for (const id of delta.left ?? []) people.delete(id);
  for (const p of delta.participants ?? []) people.set(p.id, p);
  const limit = state.whisper_limit;
  const whispers = limit ? [...state.whispers, ...(delta.whispers ?? [])].slice(-limit) : [];
  return {
    ...state,
    seq: delta.seq,
    t: delta.t,
    motifs: [...motifs.keys()].sort(byKey).map((k) => motifs.get(k)),
    mood: delta.mood ?? state.mood,
    scene: delta.scene ?? state.scene,
    whispers,
    participants: [...people.keys()].sort(byKey).map((k) => people.get(k)),
    people: delta.people ?? state.people,
  };
}

/** A frame's list of participant ids (a region's), as ids_of reads it: a number is the step
 * from the last numbered id (`p` and the number in hex), a string the id itself. */
export function idsOf(steps) {
  let number = 0;
  return steps.map((step) => (typeof step === "string" ? step : `p${(number += step).toString(16)}`));
}

/** A delta's `applied` as participant id -> highest cid merged, as applied_map reads its
 * pairs: a number key is the step from the last numbered id (`p` and the number in hex),
 * a string key the id itself. */
export function appliedOf(delta) {
  const pairs = delta.applied ?? [];
  const applied = {};
  for (let i = 0, number = 0; i + 1 < pairs.length; i += 2) {
    const key = pairs[i];
    if (typeof key === "string") applied[key] = pairs[i + 1];
    else applied[`p${(number += key).toString(16)}`] = pairs[i + 1];
  }
  return applied;
}

/** Applies deltas in order, notices gaps, and takes the snapshot that heals one. */
export class StateTracker {
  constructor(state) {
    this.state = state;
    this.awaitingSnapshot = false;
    this.gaps = 0;
  }

  /** "applied", "stale" (already held), "gap" (ask for a snapshot) or "waiting" (asked). */
  onDelta(delta) {
    if (this.awaitingSnapshot) return "waiting";
    if (delta.seq <= this.state.seq) return "stale";
    if (delta.seq !== this.state.seq + 1) {
      this.awaitingSnapshot = true;
      this.gaps += 1;
      return "gap";
    }
    this.state = applyDelta(this.state, delta);
    return "applied";
  }

  /** A new connection resumes from the state held: a snapshot asked for before will not come. */
  resumed() {
    this.awaitingSnapshot = false;
  }

  /** Take the snapshot whatever its age (a replay moved in time); true. */
  jump(state) {
    this.awaitingSnapshot = false;
    this.state = state;
    return true;
  }

  /** Take the snapshot unless it is older than what we hold; true when taken. */
  onSnapshot(state) {
    this.awaitingSnapshot = false;
    if (state.seq < this.state.seq) return false;
    this.state = state;
    return true;
  }
}
