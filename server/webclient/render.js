// The dreamscape on a canvas: each motif a soft glowing blob, drawn every frame where its
// parameters put it at the session's time now (motion.js: decay and orbit), and eased over
// one tick from where it was drawn when a new state moves it; the
// background's hue follows the mood's valence, the blobs' gentle pulse the mood's arousal
// (in step while harmonizing, softer as the room is calmed), and a fractured scene shows
// its regions as rings the motifs gather in, each captioned with whose rhythm and which
// motifs it holds. Overlapping blobs are no brighter than the brightest of them, and the
// labels are laid out so that none covers another or hides under a panel (labels.js). Under
// prefers-reduced-motion the picture holds still between states: no orbit, pulse or easing.
// Everything drawn here is pixels (motif names via fillText), so no text can become markup.

import { layoutLabels } from "/static/labels.js";
import { who } from "/static/moments.js";
import { motifAt, SessionClock } from "/static/motion.js";
import { idsOf } from "/static/protocol.js";

const TAU = Math.PI * 2;
const FADE_MS = 600; // how long a removed motif takes to fade out
const REGION_RADIUS = 0.16; // of the canvas' shorter side
const CAPTION_CHARS = 40; // a region's caption is cut past this
const reducedMotionQuery = window.matchMedia?.("(prefers-reduced-motion: reduce)") ?? null;

const lerp = (a, b, k) => a + (b - a) * k;
const cut = (text) => (text.length > CAPTION_CHARS ? `${text.slice(0, CAPTION_CHARS - 1)}…` : text);
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/** Radius as a fraction of the canvas' shorter side: area grows with weight (sqrt scale). */
export function radiusFraction(weight) {
  return clamp(0.035 + 0.085 * Math.sqrt(Math.max(0, weight)), 0.035, 0.3);
}

/** A stable small number per name, so that blobs pulse out of step with each other. */
function phaseOffset(name) {
  let h = 0;
  for (let i = 0; i < name.length; i += 1) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return (h % 1000) / 1000 * TAU;
}

function rgb(colour) {
  const n = Number.parseInt(colour.slice(1), 16);
  return Number.isNaN(n) ? [200, 200, 220] : [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function look(motif) {
  return { x: motif.x, y: motif.y, size: radiusFraction(motif.weight), alpha: motif.intensity };
}

const SILENT = new SessionClock();

export class DreamscapeRenderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.blobs = new Map(); // name -> { from, motif, to (once dying), rgb, offset, dying }
    this.clock = SILENT;
    this.halfLife = null;
    this.mood = { from: { valence: 0, arousal: 0 }, to: { valence: 0, arousal: 0 } };
    this.startedAt = 0;
    this.durationMs = 100;
    this.pulse = 0;
    this.lastFrame = 0;
    this.hint = "";
    this.running = false;
    this.sky = null;
    this.scene = null;
    this.people = new Map();
    this.labelSpots = new Map(); // label text -> where labels.js put it in the last frame
    this.panels = []; // elements over the canvas: no label goes under them
    this.stateT = 0;
    this.still = reducedMotionQuery?.matches ?? false;
    reducedMotionQuery?.addEventListener("change", (event) => {
      this.still = event.matches;
    });
  }

  start() {
    this.running = true;
    requestAnimationFrame((now) => this.frame(now));
  }

  stop() {
    this.running = false;
  }

  setHint(text) {
    this.hint = text;
  }

  /** The elements drawn over the canvas (its side panels): labels are kept clear of them. */
  keepLabelsClearOf(elements) {
    this.panels = [...elements];
  }

  /** Where the panels cover the canvas, in canvas pixels, centred as labels.js wants. */
  coveredBoxes(ratio) {
    if (this.panels.length === 0) return [];
    const origin = this.canvas.getBoundingClientRect();
    const boxes = [];
    for (const panel of this.panels) {
      const r = panel.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue; // hidden
      boxes.push({
        x: (r.left - origin.left + r.width / 2) * ratio,
        y: (r.top - origin.top + r.height / 2) * ratio,
        width: r.width * ratio,
        height: r.height * ratio,
      });
    }
    return boxes;
  }

  /** A new state arrived: ease from what is on screen now towards it over one tick.
   * `clock` (a SessionClock) tells the session's time now. */
  update(state, tickHz, clock = SILENT) {
    const now = performance.now();
    const k = this.progress(now);
    this.clock = clock;
    this.stateT = state.t;
    this.halfLife = state.half_life_s ?? null;
    this.durationMs = 1000 / (tickHz > 0 ? tickHz : 10);
    this.startedAt = now;
    const seen = new Set();
    for (const motif of state.motifs) {
      seen.add(motif.name);
      const blob = this.blobs.get(motif.name);
      if (blob === undefined) {
        const target = this.target({ motif });
        this.blobs.set(motif.name, {
          from: { ...target, size: 0, alpha: 0 },
          motif,
          to: null,
          rgb: rgb(motif.colour),
          offset: phaseOffset(motif.name),
          dying: 0,
        });
      } else {
        blob.from = this.blend(blob, k);
        blob.motif = motif;
        blob.to = null;
        blob.rgb = rgb(motif.colour);
        blob.dying = 0;
      }
    }
    for (const [name, blob] of this.blobs) {
      if (seen.has(name) || blob.dying) continue;
      blob.from = this.blend(blob, k);
      blob.to = { ...blob.from, alpha: 0 };
      blob.dying = now;
    }
    this.mood.from = this.moodAt(k);
    this.mood.to = { valence: state.mood.valence, arousal: state.mood.arousal };
    this.scene = state.scene ?? null;
    this.people = new Map(state.participants.map((p) => [p.id, p]));
  }

  progress(now) {
    if (this.still) return 1;
    return clamp((now - this.startedAt) / this.durationMs, 0, 1);
  }

  /** Where a blob's motif is now: its view's decay and orbit at the session's time (held at
   * the state's own time when the user asked for reduced motion). */
  target(blob) {
    const now = this.still ? this.stateT : this.clock.now();
    return blob.to ?? look(motifAt(blob.motif, now, this.halfLife));
  }

  blend(blob, k) {
    if (blob.dying) k = this.still ? 1 : clamp((performance.now() - blob.dying) / FADE_MS, 0, 1);
    const { from } = blob;
    const to = this.target(blob);
    return {
      x: lerp(from.x, to.x, k),
      y: lerp(from.y, to.y, k),
      size: lerp(from.size, to.size, k),
      alpha: lerp(from.alpha, to.alpha, k),
    };
  }

  moodAt(k) {
    const { from, to } = this.mood;
    return {
      valence: lerp(from.valence, to.valence, k),
      arousal: lerp(from.arousal, to.arousal, k),
    };
  }

  fitCanvas() {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.round(this.canvas.clientWidth * ratio);
    const height = Math.round(this.canvas.clientHeight * ratio);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    return ratio;
  }

  frame(now) {
    if (!this.running) return;
    const dt = this.lastFrame ? Math.min(0.1, (now - this.lastFrame) / 1000) : 0;
    this.lastFrame = now;
    const ratio = this.fitCanvas();
    const k = this.progress(now);
    const mood = this.moodAt(k);
    this.pulse = (this.pulse + dt * TAU * (0.08 + 0.45 * mood.arousal)) % TAU;
    this.drawBackground(mood);
    const captions = this.scene?.fractured ? this.drawRegions(ratio) : [];
    const labels = this.drawBlobs(k, ratio);
    this.drawLabels([...captions, ...labels], ratio);
    requestAnimationFrame((t) => this.frame(t));
  }

  /** The mood's sky, repainted only when its hue or the canvas size changes (it is costly). */
  drawBackground(mood) {
    const { ctx, canvas } = this;
    const { width, height } = canvas;
    // valence -1: dusky violet (275); 0: night blue (220); +1: dawn teal-green (160)
    const hue = Math.round(220 - (mood.valence >= 0 ? 60 : 55) * mood.valence);
    const sky = this.sky;
    if (!sky || sky.hue !== hue || sky.canvas.width !== width || sky.canvas.height !== height) {
      const layer = sky?.canvas ?? document.createElement("canvas");
      layer.width = width;
      layer.height = height;
      const paint = layer.getContext("2d");
      const gradient = paint.createRadialGradient(
        width / 2, height * 0.45, 0, width / 2, height / 2, Math.hypot(width, height) / 1.6,
      );
      gradient.addColorStop(0, `hsl(${hue} 45% 16%)`);
      gradient.addColorStop(1, `hsl(${hue + 20} 55% 4%)`);
      paint.fillStyle = gradient;
      paint.fillRect(0, 0, width, height);
      this.sky = { canvas: layer, hue };
    }
    ctx.globalCompositeOperation = "copy";
    ctx.drawImage(this.sky.canvas, 0, 0);
  }

  /** Each region's ring; returns its caption (whose rhythm, which motifs) to be laid out. */
  drawRegions(ratio) {
    const { ctx, canvas } = this;
    const side = Math.min(canvas.width, canvas.height);
    ctx.globalCompositeOperation = "source-over";
    ctx.strokeStyle = "rgba(255, 255, 255, 0.22)";
    ctx.lineWidth = 1.5 * ratio;
    ctx.setLineDash([6 * ratio, 8 * ratio]);
    const captions = [];
    for (const region of this.scene.regions) {
      const x = region.x * canvas.width;
      const y = region.y * canvas.height;
      ctx.beginPath();
      ctx.arc(x, y, REGION_RADIUS * side, 0, TAU);
      ctx.stroke();
      const [sleepers, motifs] = this.regionCaption(region);
      const caption = { x, alpha: 0.8, strength: 1e9, size: 12 }; // never gives way to a motif
      const gap = REGION_RADIUS * side + 10 * ratio;
      captions.push({ ...caption, text: sleepers, y: y - gap });
      captions.push({ ...caption, text: motifs, y: y + gap, alpha: 0.6 });
    }
    ctx.setLineDash([]);
    return captions;
  }

  /** What a region holds, as its two captions: the sleepers whose rhythm it is (named when
   * listed, "Lyra #2" told from "Lyra"), and its motifs. */
  regionCaption(region) {
    const ids = idsOf(region.participants);
    const named = ids.map((id) => this.people.get(id)).filter(Boolean).map(who);
    const unnamed = ids.length - named.length;
    const sleepers = unnamed > 0
      ? [...named, `${unnamed} ${named.length ? "more" : unnamed === 1 ? "sleeper" : "sleepers"}`]
      : named;
    const motifs = region.motifs.length ? region.motifs.join(", ") : "no motif yet";
    return [cut(sleepers.join(", ") || "nobody"), cut(motifs)];
  }

  drawBlobs(k, ratio) {
    const { ctx, canvas } = this;
    const { width, height } = canvas;
    const side = Math.min(width, height);
    const labels = [];
    const amplitude = 0.06 * (1 - 0.5 * (this.scene?.calm ?? 0));
    const spread = this.scene?.harmonizing ? 0 : 1; // harmonizing: every blob breathes in step
    // "lighten" keeps the brighter of blob and what is under it, channel by channel: glows
    // that overlap stay their own colour instead of adding up to white ("lighter" did).
    ctx.globalCompositeOperation = "lighten";
    for (const [name, blob] of this.blobs) {
      const shown = this.blend(blob, k);
      if (blob.dying && shown.alpha <= 0.01) {
        this.blobs.delete(name);
        continue;
      }
      const swell = this.still ? 1 : 1 + amplitude * Math.sin(this.pulse + blob.offset * spread);
      const r = Math.max(1, shown.size * side * swell);
      const x = shown.x * width;
      const y = shown.y * height;
      const [red, green, blue] = blob.rgb;
      const a = 0.25 + 0.7 * clamp(shown.alpha, 0, 1);
      const glow = ctx.createRadialGradient(x, y, 0, x, y, r);
      glow.addColorStop(0, `rgba(${red}, ${green}, ${blue}, ${a})`);
      glow.addColorStop(0.45, `rgba(${red}, ${green}, ${blue}, ${a * 0.55})`);
      glow.addColorStop(1, `rgba(${red}, ${green}, ${blue}, 0)`);
      ctx.fillStyle = glow;
      ctx.beginPath();
      ctx.arc(x, y, r, 0, TAU);
      ctx.fill();
      labels.push({ text: name, x, y, alpha: shown.alpha, strength: shown.size * a, size: 13 });
    }
    ctx.globalCompositeOperation = "source-over";
    return labels;
  }

  /** Every label where labels.js puts it, so that none covers another; the hint when empty. */
  drawLabels(labels, ratio) {
    const { ctx, canvas } = this;
    ctx.globalCompositeOperation = "source-over";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.shadowColor = "rgba(0, 0, 0, 0.7)";
    ctx.shadowBlur = 4 * ratio;
    const font = (size) => `500 ${Math.round(size * ratio)}px system-ui, sans-serif`;
    for (const label of labels) {
      ctx.font = font(label.size);
      label.width = ctx.measureText(label.text).width + 6 * ratio;
      label.height = label.size * 1.35 * ratio;
    }
    const covered = this.coveredBoxes(ratio);
    const placed = layoutLabels(labels, canvas.width, canvas.height, this.labelSpots, covered);
    this.labelSpots = new Map(placed.map((label) => [label.text, label.spot]));
    for (const label of placed) {
      ctx.font = font(label.size);
      ctx.fillStyle = `rgba(255, 255, 255, ${0.35 + 0.6 * clamp(label.alpha, 0, 1)})`;
      ctx.fillText(label.text, label.x, label.y);
    }
    if (this.blobs.size === 0 && this.hint) {
      ctx.fillStyle = "rgba(255, 255, 255, 0.55)";
      ctx.font = `italic ${Math.round(16 * ratio)}px system-ui, sans-serif`;
      ctx.fillText(this.hint, canvas.width / 2, canvas.height / 2);
    }
    ctx.shadowBlur = 0;
  }
}
