// The page around the canvas: lists that mirror the dreamscape, the connection state, the
// contribution and host forms, and the lines that tell the user what happened. Every piece
// of data reaches the DOM as text (textContent), never as markup.

import { motifsAt, phaseRemaining } from "/static/motion.js";
import { MOTIF_NAME, PAIR_CODE, WHISPER_MAX } from "/static/protocol.js";

const $ = (id) => document.getElementById(id);

/** A fresh copy of a <template>'s content. */
export const clone = (id) => $(id).content.cloneNode(true);

/** An element with attributes and children; strings become text nodes, never HTML. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children) {
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/**
 * Make `list` show `items` in order, reusing each item's element by key and rebuilding it only
 * when its signature changes, so that 10 updates a second do not churn the DOM.
 */
function syncList(list, items, keyOf, signatureOf, build) {
  const old = new Map([...list.children].map((child) => [child.dataset.key, child]));
  const stale = [];
  items.forEach((item, index) => {
    const key = keyOf(item);
    const signature = signatureOf(item);
    let node = old.get(key);
    old.delete(key);
    if (node === undefined || node.dataset.signature !== signature) {
      if (node !== undefined) stale.push(node);
      node = build(item);
      node.dataset.key = key;
      node.dataset.signature = signature;
    }
    const here = list.children[index] ?? null;
    if (here !== node) list.insertBefore(node, here);
  });
  for (const node of [...stale, ...old.values()]) node.remove();
}

const percent = (v) => `${Math.round(v * 100)} %`;
// What a sleeper who chose to show it shows of their stage.
const STAGE_ICONS = { awake: "☀", light: "☁", deep: "☾", rem: "✦" };

function feeling(valence) {
  if (valence > 0.25) return "bright";
  if (valence < -0.25) return "dark";
  return "even";
}

export class DreamPage {
  constructor({ mode, session, role }) {
    this.mode = mode;
    this.role = role;
    this.me = null;
    const modes = { s: "dreamscape", watch: "watching", host: "host console" };
    $("mode-label").textContent = modes[mode];
    $("session-label").textContent = session;
    document.title = `${session} · dreamcommons`;
    if (role === "dreamer" || role === "waker") $("composer-slot").append(clone("controls-template"));
    if (role !== "watcher") $("devices-slot").append(clone("devices-template"));
    $("devices-empty").hidden = role !== "watcher";
    document.body.dataset.mode = mode;
    document.body.dataset.role = role;
    if (mode === "watch") this.asVenueDisplay();
    else this.bindTabs(mode === "host" ? "invite" : "motifs");
    this.setWhisperLimit(null);
  }

  /** The big screen: nothing to press but full screen, nothing to fill in. */
  asVenueDisplay() {
    $("title").hidden = false;
    $("tabs").remove();
    $("everyone-box").remove();
    $("me").remove();
    const button = $("fullscreen");
    if (!document.fullscreenEnabled) {
      button.remove();
      return;
    }
    button.hidden = false;
    button.addEventListener("click", () => {
      if (document.fullscreenElement) document.exitFullscreen();
      else document.documentElement.requestFullscreen().catch(() => button.remove());
    });
  }

  /** On a phone the lists are drawers under the dreamscape, one open at a time. */
  bindTabs(first) {
    $("tabs").addEventListener("click", (event) => {
      const tab = event.target.closest("[data-drawer]");
      if (tab) this.openDrawer(tab.dataset.drawer);
    });
    this.openDrawer(first);
  }

  /** Add a tab (and its drawer, already in the page) after the others. */
  addTab(name, label) {
    $("tabs").append(el("button", { type: "button", role: "tab", "data-drawer": name }, label));
  }

  openDrawer(name) {
    for (const tab of $("tabs").querySelectorAll("[data-drawer]")) {
      tab.setAttribute("aria-selected", String(tab.dataset.drawer === name));
      tab.setAttribute("aria-controls", `drawer-${tab.dataset.drawer}`);
    }
    for (const drawer of document.querySelectorAll(".drawer")) {
      drawer.classList.toggle("open", drawer.id === `drawer-${name}`);
    }
  }

  /** The venue's title, and whether this is a recording played back. */
  showSession(listed, replay) {
    if (listed) $("venue-title").textContent = listed.title;
    $("title").textContent = listed?.title ?? $("session-label").textContent;
    $("replay-badge").hidden = !replay;
    document.body.dataset.replay = String(Boolean(replay));
    if (replay) document.title = `replay of ${document.title}`;
  }

  /** Why the server did not let us in, and a form to try again with a code. */
  showRefusal(reason, retry) {
    document.body.dataset.refused = "true";
    const gate = clone("retry-template");
    $("stage").append(gate);
    $("retry-reason").textContent = reason;
    const form = $("retry-form");
    $("retry-code").focus();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const code = $("retry-code").value.replace(/[^A-Za-z0-9]/g, "").toUpperCase();
      if (code) retry(code);
    });
  }

  /** The longest whisper the server takes (its welcome says), else the protocol's bound. */
  setWhisperLimit(limit) {
    const told = Number.isInteger(limit) && limit > 0;
    this.whisperMax = told ? Math.min(limit, WHISPER_MAX) : WHISPER_MAX;
    $("whisper-input")?.setAttribute("maxlength", String(this.whisperMax));
  }

  showConnection(status, detail) {
    // Until the server has let us in, nothing can be sent: the controls say so.
    for (const controls of document.querySelectorAll("fieldset.live")) {
      controls.disabled = status !== "connected";
    }
    const state = $("connection-state");
    state.textContent = status;
    state.dataset.state = status;
    document.body.dataset.connection = status;
    $("connection-detail").textContent = detail;
  }

  showState(state, me) {
    this.me = me;
    $("seq").textContent = String(state.seq);
    this.showMotifs(motifsAt(state, state.t)); // each motif's weight and place at this tick
    this.showParticipants(state.participants);
    this.showPeopleCount(state.people, state.participants.length);
    this.showWhispers(state.whispers);
    this.showScene(state.scene, state.t);
  }

  /** The session's arc and the dream rules' state, in words, in the top bar. */
  showScene(scene, now) {
    const line = $("scene");
    if (!scene) {
      line.textContent = "";
      return;
    }
    const parts = [scene.paused ? `${scene.phase} (paused)` : scene.phase];
    const remaining = phaseRemaining(scene, now);
    if (remaining !== null) {
      const left = Math.ceil(remaining);
      parts.push(`${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} left`);
    }
    const coherence = scene.coherence === null ? "—" : scene.coherence.toFixed(2);
    parts.push(`coherence ${coherence} (${scene.sleepers} sleepers)`);
    if (scene.fractured) parts.push(`FRACTURED into ${scene.regions.length} regions`);
    if (scene.harmonizing) parts.push("harmonizing");
    if (scene.calm > 0) parts.push(`calming ${Math.round(scene.calm * 100)} %`);
    line.textContent = parts.join(" · ");
    line.dataset.phase = scene.phase;
    line.dataset.fractured = String(scene.fractured);
    document.body.dataset.fractured = String(scene.fractured);
  }

  showMotifs(motifs) {
    $("motifs-empty").hidden = motifs.length > 0;
    syncList(
      $("motif-list"),
      motifs,
      (m) => m.name,
      (m) => `${m.colour} ${m.weight.toFixed(2)} ${m.intensity.toFixed(2)} ${feeling(m.valence)}`,
      (m) => {
        const item = el(
          "li",
          { "data-motif": m.name, "data-x": m.x, "data-y": m.y },
          el("span", { class: "swatch", "aria-hidden": "true" }),
          el("span", { class: "name" }, m.name),
          el("span", { class: "muted" }, feeling(m.valence)),
          el("span", { class: "muted" }, `weight ${m.weight.toFixed(2)} · intensity ${percent(m.intensity)}`),
        );
        item.firstElementChild.style.backgroundColor = m.colour;
        return item;
      },
    );
    const names = $("motif-names");
    if (names) {
      const known = new Set([...names.children].map((o) => o.value));
      for (const m of motifs) if (!known.has(m.name)) names.append(el("option", { value: m.name }));
    }
    const byName = new Map(motifs.map((m) => [m.name, m]));
    for (const item of $("motif-list").children) {
      const m = byName.get(item.dataset.key);
      if (m) Object.assign(item.dataset, { x: m.x, y: m.y });
    }
  }

  showParticipants(people) {
    syncList(
      $("participants"),
      people,
      (p) => p.id,
      (p) =>
        JSON.stringify([p.name, p.tag, p.role, p.present, p.devices, p.stage, p.id === this.me]),
      (p) => this.personItem(p),
    );
  }

  personItem(p) {
    const devices = p.devices === 1 ? "1 device" : `${p.devices} devices`;
    const item = el(
      "li",
      { "data-pid": p.id, "data-role": p.role, "data-present": p.present },
      el("span", { class: "name" }, p.name),
      ...(p.tag ? [el("span", { class: "tag" }, `#${p.tag}`)] : []),
      el("span", { class: `role ${p.role}` }, p.role),
      el("span", { class: "muted" }, devices),
    );
    if (p.stage) {
      const icon = STAGE_ICONS[p.stage] ?? "";
      item.append(el("span", { class: "stage", "data-stage": p.stage }, `${icon} ${p.stage}`));
    }
    if (!p.present) item.append(el("span", { class: "away" }, "away"));
    if (p.id === this.me) item.append(el("span", { class: "you" }, "you"));
    if (this.mode === "host") item.append(el("span", { class: "muted pid" }, p.id));
    return item;
  }

  /** How many are here and away; a large room lists only its hosts and the stages shown,
   * and offers the whole list a page at a time. */
  showPeopleCount(people, listed) {
    const here = people?.here ?? listed;
    const away = people?.away ?? 0;
    const partial = here + away > listed;
    const count = `${here} here` + (away ? ` · ${away} away` : "");
    $("people-count").textContent = partial
      ? `${count} · listing the hosts and the stages shown`
      : count;
    const box = $("everyone-box"); // none on the big screen
    if (box) box.hidden = !partial;
  }

  /** One's own resume token, and what it is for. */
  showMe(session, token) {
    if (!$("me")) return; // the big screen is nobody's own
    $("me").hidden = !token;
    $("me-session").textContent = session;
    $("me-token").textContent = token ?? "";
  }

  /** A page of the whole list, as the server answered it; the button asks for the next. */
  showEveryone(page) {
    const list = $("everyone");
    if (page.offset === 0) list.replaceChildren();
    for (const p of page.participants) list.append(this.personItem(p));
    const more = list.children.length < page.total;
    const button = $("everyone-more");
    button.textContent = more ? `Show more (${list.children.length} of ${page.total})` : "Refresh";
    button.dataset.next = String(more ? list.children.length : 0);
  }

  showWhispers(whispers) {
    $("whispers-empty").hidden = whispers.length > 0;
    const newest = [...whispers].reverse();
    syncList(
      $("whispers"),
      newest,
      (w) => `${w.participant}@${w.t}:${w.text}`,
      () => "",
      (w) => {
        const who = w.tag ? `${w.name} #${w.tag}` : w.name;
        return el("li", {}, el("span", { class: "who" }, who), el("span", {}, w.text));
      },
    );
  }

  showError(text) {
    $("error-line").textContent = text;
    $("status-line").textContent = "";
  }

  showStatus(text) {
    $("status-line").textContent = text;
    $("error-line").textContent = "";
  }

  /** Say what became of a request sent as `cid` (null: not sent); true when it was sent. */
  sent(cid, what) {
    if (cid === null) this.showError(`Not connected: ${what} was not sent.`);
    else this.showStatus(`${what}: sent, waiting for the server…`);
    return cid !== null;
  }

  addDevice(device) {
    $("my-devices")?.append(el("li", {}, device));
    $("device-ids")?.append(el("option", { value: device }));
  }

  /** Wire the forms to `actions` (contribute, whisper, share, pair); each returns a cid. */
  bindControls(actions) {
    const sent = (cid, what) => this.sent(cid, what);
    $("everyone-more")?.addEventListener("click", (event) => {
      actions.everyone(Number(event.currentTarget.dataset.next ?? 0));
    });
    $("contribute-form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      const motif = form.elements.motif.value.trim().toLowerCase().replace(/\s+/g, "-");
      if (!MOTIF_NAME.test(motif)) {
        this.showError("A motif is one word: a-z, digits and dashes, starting with a letter.");
        return;
      }
      const values = {
        motif,
        intensity: Number(form.elements.intensity.value),
        valence: Number(form.elements.valence.value),
        arousal: Number(form.elements.arousal.value),
        private: form.elements.private.checked,
      };
      if (sent(actions.contribute(values), `“${motif}”`)) form.elements.motif.value = "";
    });
    $("whisper-form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      const input = event.currentTarget.elements.text;
      const text = input.value.trim();
      if (!text || text.length > this.whisperMax) {
        this.showError(`A whisper is 1 to ${this.whisperMax} characters.`);
        return;
      }
      if (sent(actions.whisper(text), "whisper")) input.value = "";
    });
    $("pair-form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      const input = event.currentTarget.elements.code;
      const code = input.value.replace(/[\s-]/g, "").toUpperCase();
      if (!PAIR_CODE.test(code)) {
        this.showError("A pairing code is the 10 letters and digits your device shows.");
        return;
      }
      if (sent(actions.pair(code), `pairing code ${code}`)) input.value = "";
    });
    const share = $("share-input");
    share?.addEventListener("input", () => {
      $("share-value").textContent = `${Math.round(Number(share.value) * 100)} %`;
    });
    share?.addEventListener("change", () => {
      const level = Number(share.value);
      sent(actions.share(level), `share ${Math.round(level * 100)} %`);
    });
    const more = $("more-toggle");
    more?.addEventListener("click", () => {
      const open = more.getAttribute("aria-expanded") !== "true";
      more.setAttribute("aria-expanded", String(open));
      $("composer").classList.toggle("more-open", open);
    });
    const stage = $("stage-input");
    stage?.addEventListener("change", () => {
      sent(actions.showStage(stage.checked), stage.checked ? "show stage" : "hide stage");
    });
  }
}
