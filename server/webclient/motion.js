// How a motif looks at any moment between the deltas that describe it: decay and orbit; and
// where a sleeper is in their breath. The twin of dreamcommons/contracts/motion.py and
// breathing.py (a test holds them to the same numbers); docs/protocol.md states the formulas.

import { ORBIT_PERIOD_S, ORBIT_RADIUS } from "/static/contracts.js";

const unit = (v) => Math.min(1, Math.max(0, v));

/** `weight` at session time `since`, decayed to `now` (never grown back before it). */
export function weightAt(weight, since, now, halfLifeS) {
  if (halfLifeS === null || halfLifeS === undefined || now <= since) return weight;
  return weight * 2 ** (-(now - since) / halfLifeS);
}

/** Where a motif centred at (x, y) with `phase` is at session time `now`. */
export function orbitAt(x, y, phase, now) {
  const angle = 2 * Math.PI * (now / ORBIT_PERIOD_S + phase);
  return [unit(x + ORBIT_RADIUS * Math.cos(angle)), unit(y + ORBIT_RADIUS * Math.sin(angle))];
}

export function motifAt(motif, now, halfLifeS) {
  const [x, y] = orbitAt(motif.x, motif.y, motif.phase, now);
  return {
    name: motif.name,
    colour: motif.colour,
    weight: weightAt(motif.weight, motif.t, now, halfLifeS),
    intensity: motif.intensity,
    valence: motif.valence,
    arousal: motif.arousal,
    x,
    y,
  };
}

/** Every motif of `state` as it is at session time `now`, in the state's order. */
export function motifsAt(state, now) {
  return state.motifs.map((m) => motifAt(m, now, state.half_life_s ?? null));
}

/** Seconds left in the scene's phase at session time `now`; null when it has no end. */
export function phaseRemaining(scene, now) {
  if (scene.phase_ends !== null && scene.phase_ends !== undefined) {
    return Math.max(0, scene.phase_ends - now);
  }
  return scene.phase_remaining_s ?? null;
}

const TAU = 2 * Math.PI;

/** The phase (radians, 0 to 2π) of a participant view's `breath` at session time `now`:
 * the twin of dreamcommons/contracts/breathing.py. */
export function breathPhaseAt(breath, now) {
  const phase = (breath.phase + TAU * breath.hz * (now - breath.t)) % TAU;
  return phase < 0 ? phase + TAU : phase;
}

/** Each listed sleeper's breathing phase at `now`, by id, for those whose view has one. */
export function breathPhasesAt(state, now) {
  const phases = new Map();
  for (const p of state.participants) {
    if (p.breath) phases.set(p.id, breathPhaseAt(p.breath, now));
  }
  return phases;
}

/** The mean of the phases' unit vectors [x, y]: its length is the Kuramoto order parameter
 * (1: all in step; near 0: no common rhythm); [0, 0] for none. */
export function meanVector(phases) {
  let x = 0;
  let y = 0;
  let count = 0;
  for (const phase of phases) {
    x += Math.cos(phase);
    y += Math.sin(phase);
    count += 1;
  }
  return count === 0 ? [0, 0] : [x / count, y / count];
}

/** Session time now, from the newest frame's `t` and when it arrived (performance.now()). */
export class SessionClock {
  constructor() {
    this.t = 0;
    this.at = 0;
  }

  heard(t, at = performance.now()) {
    this.t = t;
    this.at = at;
  }

  now(at = performance.now()) {
    return this.t + (at - this.at) / 1000;
  }
}
