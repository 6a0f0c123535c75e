// The night as the page has seen it since it joined: one sample a second of session time
// (coherence, chance, mood, each shown sleeper's stage) and the moments between them, kept
// in the page and bounded, for the plots to draw.

export const HISTORY_SAMPLES = 3600; // an hour at one a second; older samples are dropped
export const HISTORY_MOMENTS = 200;
export const SLEEPERS_SHOWN = 12; // hypnogram strips at most
const SAMPLE_EVERY_S = 1;

// A hypnogram's rows, top to bottom as sleep tools draw them: wake, REM, light, deep.
export const STAGE_LEVELS = { deep: 0, light: 1, rem: 2, awake: 3 };

export class NightHistory {
  /** `whose(participant)`: true for a sleeper whose stage this page draws. */
  constructor(whose = () => true) {
    this.whose = whose;
    this.t = [];
    this.coherence = [];
    this.chance = [];
    this.valence = [];
    this.arousal = [];
    this.sleepers = new Map(); // id -> { label, stages: [level or null, aligned with t] }
    this.moments = [];
  }

  get length() {
    return this.t.length;
  }

  /** Take `state` (and the `moments` it brought): a sample when a second has passed since
   * the last one, or when something happened. True when a sample was added. */
  record(state, moments = [], label = (p) => p.name) {
    if (state.t < (this.t.at(-1) ?? -Infinity)) this.clear(); // a replay sought back
    this.moments.push(...moments);
    const excess = this.moments.length - HISTORY_MOMENTS;
    if (excess > 0) this.moments.splice(0, excess);
    const last = this.t.at(-1);
    const due = last === undefined || state.t - last >= SAMPLE_EVERY_S;
    if (state.t === last || !(due || moments.length)) return false;
    const scene = state.scene ?? {};
    this.t.push(state.t);
    this.coherence.push(scene.coherence ?? null);
    this.chance.push(scene.chance ?? null);
    this.valence.push(state.mood?.valence ?? null);
    this.arousal.push(state.mood?.arousal ?? null);
    const shown = new Map();
    for (const p of state.participants) {
      if (p.stage && this.whose(p)) shown.set(p.id, p);
    }
    for (const [id, p] of shown) {
      if (!this.sleepers.has(id) && this.sleepers.size < SLEEPERS_SHOWN) {
        this.sleepers.set(id, { label: label(p), stages: new Array(this.t.length - 1).fill(null) });
      }
    }
    for (const [id, sleeper] of this.sleepers) {
      const p = shown.get(id);
      if (p !== undefined) sleeper.label = label(p);
      sleeper.stages.push(p === undefined ? null : STAGE_LEVELS[p.stage] ?? null);
    }
    if (this.t.length > HISTORY_SAMPLES) this.drop(this.t.length - HISTORY_SAMPLES);
    return true;
  }

  clear() {
    for (const series of [this.t, this.coherence, this.chance, this.valence, this.arousal]) {
      series.length = 0;
    }
    this.sleepers.clear();
    this.moments = [];
  }

  drop(count) {
    for (const series of [this.t, this.coherence, this.chance, this.valence, this.arousal]) {
      series.splice(0, count);
    }
    for (const [id, sleeper] of this.sleepers) {
      sleeper.stages.splice(0, count);
      if (sleeper.stages.every((v) => v === null)) this.sleepers.delete(id);
    }
    const first = this.t[0];
    this.moments = this.moments.filter((m) => m.t >= first);
  }
}
