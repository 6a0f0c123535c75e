// The night so far, drawn with uPlot (vendored): coherence against its chance baseline with
// markers where the scene fractured, was harmonized and healed; the mood's path; each shown
// sleeper's stages as a hypnogram strip; and the sleepers' breathing as dots on a circle
// (breathing.js, drawn every frame). Fed every state; the charts redrawn at most once a second.

import uPlot from "/static/vendor/uPlot.esm.js";
import { BreathCircle } from "/static/breathing.js";
import { NightHistory, STAGE_LEVELS } from "/static/history.js";
import { momentsBetween, who } from "/static/moments.js";
import { NoticeBoard } from "/static/notices.js";

const REDRAW_MS = 1000;
const INK = "#9aa6bd";
const GRID = { stroke: "rgba(255, 255, 255, 0.07)", width: 1 };
const TICKS = { stroke: "rgba(255, 255, 255, 0.15)", width: 1, size: 4 };
export const MARKER_COLOURS = {
  fracture: "#ff8a80",
  harmonize: "#f2c57c",
  heal: "#8fd19e",
  phase: "rgba(154, 166, 189, 0.6)",
};
const MARKED = new Set(["fracture", "harmonize", "heal", "phase"]);
const STAGE_NAMES = Object.fromEntries(Object.entries(STAGE_LEVELS).map(([k, v]) => [v, k]));

/** Session seconds as the clock on a wall reads them: m:ss, or h:mm:ss past an hour. */
export function clockOf(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const ss = String(s % 60).padStart(2, "0");
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}:${ss}`;
  return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${ss}`;
}

const el = (tag, attributes = {}, text = "") => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
};

function timeAxis() {
  return {
    stroke: INK,
    grid: GRID,
    ticks: TICKS,
    size: 26,
    font: "11px system-ui, sans-serif",
    values: (u, splits) => splits.map(clockOf),
  };
}

function valueAxis(extra = {}) {
  return { stroke: INK, grid: GRID, ticks: TICKS, size: 40, font: "11px system-ui, sans-serif", ...extra };
}

/** One figure of the plots section: a caption and a uPlot chart under it. */
class Figure {
  constructor(section, testid, caption, options) {
    this.figure = el("figure", { class: "plot", "data-testid": testid, "data-points": "0" });
    this.caption = el("figcaption", {}, caption);
    this.figure.append(this.caption);
    section.append(this.figure);
    this.options = options;
    this.chart = null;
  }

  draw(data, width) {
    if (this.chart === null) {
      this.chart = new uPlot({ ...this.options, width }, data, this.figure);
    } else {
      if (this.chart.width !== width) this.chart.setSize({ width, height: this.options.height });
      this.chart.setData(data);
    }
    this.figure.dataset.points = String(data[0].length);
  }

  remove() {
    this.chart?.destroy();
    this.figure.remove();
  }
}

export class NightPlots {
  /** `section`: the page's #plots (a layout without one still gets the notices); `mode`: s,
   * watch or host (on s, only one's own stages). */
  constructor(section, mode) {
    section ??= document.createElement("section");
    this.section = section;
    this.mode = mode;
    this.me = null;
    this.history = new NightHistory((p) => this.mode !== "s" || p.id === this.me);
    this.notices = new NoticeBoard();
    this.previous = null;
    this.lastDraw = -Infinity;
    this.timer = null;
    section.hidden = false;
    section.setAttribute("aria-label", "the night so far");
    section.append(el("h2", {}, "The night so far"));
    this.coherence = new Figure(section, "coherence-plot", "coherence and chance", {
      height: 130,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false }, y: { range: [0, 1] } },
      axes: [timeAxis(), valueAxis({ splits: () => [0, 0.5, 1] })],
      series: [
        {},
        { label: "coherence", stroke: "#8fd19e", width: 2, points: { show: false } },
        { label: "chance", stroke: INK, width: 1.5, dash: [5, 4], points: { show: false } },
      ],
      hooks: { draw: [(u) => this.drawMarkers(u)] },
    });
    this.coherence.figure.dataset.markers = "";
    this.breath = new BreathCircle(section);
    this.mood = new Figure(section, "mood-plot", "mood: valence (gold) and arousal (violet)", {
      height: 110,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false }, y: { range: [-1, 1] } },
      axes: [timeAxis(), valueAxis({ splits: () => [-1, 0, 1] })],
      series: [
        {},
        { label: "valence", stroke: "#f2c57c", width: 2, points: { show: false } },
        { label: "arousal", stroke: "#c9b6ff", width: 2, points: { show: false } },
      ],
    });
    this.strips = new Map(); // sleeper id -> Figure
    this.empty = el("p", { class: "muted small", "data-testid": "hypnogram-empty" },
      mode === "s" ? "Your sleep stages show here once you share them." :
        "Sleep stages show here for the sleepers who share them.");
    section.append(this.empty);
    this.resize = new ResizeObserver(() => this.schedule());
    this.resize.observe(section);
  }

  /** A new state: its moments are told at once; the plots catch up within a second (the
   * breathing circle follows `clock`, a SessionClock, every frame). */
  update(state, me = null, clock = undefined) {
    this.me = me;
    this.breath.update(state, clock);
    const wentBack = this.previous !== null && state.t < this.previous.t; // a replay sought back
    const moments = wentBack ? [] : momentsBetween(this.previous, state);
    this.previous = state;
    for (const moment of moments) this.notices.show(moment);
    if (this.history.record(state, moments, who)) this.schedule();
  }

  /** Start the plots again from the next state (a replay moved to another time). */
  restart() {
    this.previous = null;
    this.history.clear();
    this.schedule();
  }

  schedule() {
    if (this.timer !== null) return;
    const wait = Math.max(0, this.lastDraw + REDRAW_MS - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.lastDraw = performance.now();
      this.draw();
    }, wait);
  }

  draw() {
    const h = this.history;
    const width = Math.max(160, Math.floor(this.section.clientWidth));
    const c = h.coherence.at(-1);
    const chance = h.chance.at(-1);
    this.coherence.caption.textContent = c === null || c === undefined
      ? "coherence and chance (too few sleepers yet)"
      : `coherence ${c.toFixed(2)} (line) against ${chance?.toFixed(2) ?? "—"} by chance (dashed)`;
    this.coherence.draw([h.t, h.coherence, h.chance], width);
    this.coherence.figure.dataset.markers = h.moments
      .filter((m) => MARKED.has(m.kind)).map((m) => m.kind).join(" ");
    this.mood.draw([h.t, h.valence, h.arousal], width);
    this.drawStrips(width);
  }

  drawStrips(width) {
    const h = this.history;
    for (const [id, strip] of this.strips) {
      if (!h.sleepers.has(id)) {
        strip.remove();
        this.strips.delete(id);
      }
    }
    for (const [id, sleeper] of h.sleepers) {
      let strip = this.strips.get(id);
      if (strip === undefined) {
        strip = new Figure(this.section, "hypnogram", sleeper.label, {
          height: 84,
          legend: { show: false },
          cursor: { show: false },
          scales: { x: { time: false }, y: { range: [-0.4, 3.4] } },
          axes: [
            { ...timeAxis(), show: false }, // the strips share the plots' clock above
            valueAxis({
              size: 44,
              font: "10px system-ui, sans-serif",
              splits: () => [0, 1, 2, 3],
              values: (u, splits) => splits.map((v) => STAGE_NAMES[v]),
            }),
          ],
          series: [
            {},
            {
              label: "stage", stroke: "#c9b6ff", width: 2, points: { show: false },
              paths: uPlot.paths.stepped({ align: 1 }),
            },
          ],
        });
        strip.figure.dataset.sleeper = id;
        this.strips.set(id, strip);
      }
      const level = sleeper.stages.at(-1);
      strip.caption.textContent = `${sleeper.label}: ${STAGE_NAMES[level] ?? "not shown now"}`;
      strip.draw([h.t, sleeper.stages], width);
    }
    this.empty.hidden = h.sleepers.size > 0;
    this.section.append(this.empty); // stays under the strips
  }

  /** The moments on the coherence plot: a line each, in its kind's colour. */
  drawMarkers(u) {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.lineWidth = 2 * uPlot.pxRatio;
    for (const moment of this.history.moments) {
      if (!MARKED.has(moment.kind)) continue;
      const x = Math.round(u.valToPos(moment.t, "x", true));
      if (x < left - 1 || x > left + width + 1) continue;
      ctx.strokeStyle = MARKER_COLOURS[moment.kind];
      ctx.setLineDash(moment.kind === "phase" ? [3 * uPlot.pxRatio, 3 * uPlot.pxRatio] : []);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
    }
    ctx.restore();
  }
}
