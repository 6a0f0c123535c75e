// The sleepers' breathing as dots on a circle: one dot per sleeper who shows their stage (and
// so their breath), at the phase their view extrapolates to now, 0 (the start of a breath in)
// at the top, turning clockwise; and from the centre the dots' mean vector, whose length is
// the Kuramoto order parameter the scene's coherence is. Coming into step is the dots
// bunching and the arrow growing. Redrawn every frame; under prefers-reduced-motion, drawn at
// the state's own time and held still until the next state.

import { breathPhasesAt, meanVector, SessionClock } from "/static/motion.js";
import { who } from "/static/moments.js";

const SVG = "http://www.w3.org/2000/svg";
const SIZE = 200; // the drawing's own units (its viewBox); the page scales it
const CENTRE = SIZE / 2;
const RADIUS = 80;
const DOT_RADIUS = 7;
const reducedMotionQuery = window.matchMedia?.("(prefers-reduced-motion: reduce)") ?? null;

const svg = (tag, attributes = {}) => {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
};

/** Where on the circle of `radius` the phase `phase` is: 0 at the top, clockwise. */
export function pointOf(phase, radius = RADIUS) {
  return [CENTRE + radius * Math.sin(phase), CENTRE - radius * Math.cos(phase)];
}

export class BreathCircle {
  /** A figure appended to `section`; `clock` (a SessionClock) tells the session's time. */
  constructor(section, clock = new SessionClock()) {
    this.clock = clock;
    this.state = null;
    this.dots = new Map(); // sleeper id -> <circle>
    this.figure = document.createElement("figure");
    this.figure.className = "plot breath";
    this.figure.setAttribute("data-testid", "breath-circle");
    this.caption = document.createElement("figcaption");
    this.caption.textContent = "breathing: shows here for the sleepers who share their stage";
    this.drawing = svg("svg", {
      viewBox: `0 0 ${SIZE} ${SIZE}`,
      role: "img",
      "aria-label": "the sleepers' breathing phases on a circle",
    });
    this.drawing.append(
      svg("circle", { class: "breath-ring", cx: CENTRE, cy: CENTRE, r: RADIUS }),
      svg("circle", { class: "breath-hub", cx: CENTRE, cy: CENTRE, r: 2 }),
    );
    const head = svg("marker", {
      id: "breath-arrowhead", viewBox: "0 0 10 10", refX: 6, refY: 5,
      markerWidth: 5, markerHeight: 5, orient: "auto-start-reverse",
    });
    head.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "breath-arrowhead" }));
    const defs = svg("defs");
    defs.append(head);
    this.arrow = svg("line", {
      class: "breath-arrow", x1: CENTRE, y1: CENTRE, x2: CENTRE, y2: CENTRE,
      "marker-end": "url(#breath-arrowhead)",
    });
    this.drawing.prepend(defs);
    this.dotLayer = svg("g", { class: "breath-dots" });
    this.drawing.append(this.arrow, this.dotLayer); // the dots over the arrow, to hover
    this.figure.append(this.caption, this.drawing);
    section.append(this.figure);
    this.still = reducedMotionQuery?.matches ?? false;
    reducedMotionQuery?.addEventListener("change", (event) => {
      this.still = event.matches;
      this.draw();
    });
    this.running = false;
  }

  /** A new state: the dots it lists (those whose view has a breath), drawn from now on. */
  update(state, clock = this.clock) {
    this.state = state;
    this.clock = clock;
    const seen = new Set();
    for (const p of state.participants) {
      if (!p.breath) continue;
      seen.add(p.id);
      let dot = this.dots.get(p.id);
      if (dot === undefined) {
        dot = svg("circle", { class: "breath-dot", r: DOT_RADIUS, "data-sleeper": p.id });
        dot.append(svg("title"));
        this.dotLayer.append(dot);
        this.dots.set(p.id, dot);
      }
      dot.firstChild.textContent = who(p);
    }
    for (const [id, dot] of this.dots) {
      if (seen.has(id)) continue;
      dot.remove();
      this.dots.delete(id);
    }
    const coherence = state.scene?.coherence;
    const count = this.dots.size;
    this.caption.textContent = count === 0
      ? "breathing: shows here for the sleepers who share their stage"
      : `breathing: ${count} sleeper${count === 1 ? "" : "s"}` +
        (coherence === null || coherence === undefined ? "" : `, coherence ${coherence.toFixed(2)}`);
    this.draw();
    if (!this.running) {
      this.running = true;
      requestAnimationFrame(() => this.frame());
    }
  }

  frame() {
    if (!this.still) this.draw();
    requestAnimationFrame(() => this.frame());
  }

  /** The dots and the arrow at the session's time now (the state's own, held still). */
  draw() {
    if (this.state === null) return;
    const now = this.still ? this.state.t : this.clock.now();
    const phases = breathPhasesAt(this.state, now);
    for (const [id, phase] of phases) {
      const [x, y] = pointOf(phase);
      const dot = this.dots.get(id);
      dot?.setAttribute("cx", x.toFixed(2));
      dot?.setAttribute("cy", y.toFixed(2));
    }
    const [mx, my] = meanVector(phases.values());
    this.arrow.setAttribute("visibility", phases.size > 0 ? "visible" : "hidden");
    // The mean vector in the drawing's turn: cos along "up", sin along "right".
    this.arrow.setAttribute("x2", (CENTRE + RADIUS * my).toFixed(2));
    this.arrow.setAttribute("y2", (CENTRE - RADIUS * mx).toFixed(2));
    this.figure.dataset.order = Math.hypot(mx, my).toFixed(2);
  }
}
