// The host's console: the host key, the session's arc (start, pause, resume, next phase,
// end), harmonizing, the invitation (a link to copy, a QR code to scan), taking someone out,
// and commands to the host's own devices.

import { clone, el } from "/static/ui.js";
import { ACTIONS, DEVICE_ID, HOST_ACTIONS } from "/static/protocol.js";
import qrcode from "/static/vendor/qrcode.mjs"; // qrcode-generator 2.0.4 (MIT), as published

const $ = (id) => document.getElementById(id);
const CONFIRM_MS = 4000;

/** The host key: from the address' #key=..., else kept for this tab, else null. */
export function hostKey(session, location, storage) {
  const storageKey = `dreamcommons:host-key:${session}`;
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromHash) {
    try {
      storage?.setItem(storageKey, fromHash);
    } catch {
      // no storage: the key still works for this page
    }
    // Keep the key out of the address bar, where it would be copied along with the link.
    window.history.replaceState(null, "", location.pathname + location.search);
    return fromHash;
  }
  try {
    return storage?.getItem(storageKey) ?? null;
  } catch {
    return null;
  }
}

/** Ask for the host key on the page (saying why, when a key was refused); resolves with
 * what the host typed. */
export function askHostKey(session, storage, reason = "") {
  document.body.dataset.refused = reason ? "true" : "false";
  $("stage").append(clone("key-template"));
  $("key-reason").textContent = reason;
  const form = $("key-form");
  $("key-input").focus();
  return new Promise((resolve) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key-input").value.trim();
      if (!key) return;
      try {
        storage?.setItem(`dreamcommons:host-key:${session}`, key);
      } catch {
        // no storage: the key still works for this page
      }
      form.closest("section").remove();
      delete document.body.dataset.refused;
      resolve(key);
    });
  });
}

/** Forget a key the server refused, so that the next load asks again. */
export function forgetHostKey(session, storage) {
  try {
    storage?.removeItem(`dreamcommons:host-key:${session}`);
  } catch {
    // nothing kept, nothing to forget
  }
}

/** A click that acts only when repeated within a few seconds, for what cannot be undone. */
function confirmed(button) {
  const question = button.dataset.confirm;
  if (!question || button.dataset.armed === "yes") {
    delete button.dataset.armed;
    if (button.dataset.label) button.textContent = button.dataset.label;
    return true;
  }
  button.dataset.label = button.textContent;
  button.dataset.armed = "yes";
  button.textContent = `${question} Click again`;
  setTimeout(() => {
    if (button.dataset.armed === "yes") {
      delete button.dataset.armed;
      button.textContent = button.dataset.label;
    }
  }, CONFIRM_MS);
  return false;
}

export class HostConsole {
  /** `page` is the DreamPage; `actions` has host(action, participant), command(...) and
   * invite(role, ttlS). */
  constructor(page, actions) {
    this.page = page;
    this.link = null;
    $("host-slot").append(clone("host-template"));
    $("people-tools").append(clone("remove-template"));
    $("devices-slot").append(clone("command-template"));
    page.addTab("invite", "Invite");
    page.openDrawer("invite");
    $("copy-link").addEventListener("click", () => this.copyLink());
    $("host-actions").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button || !HOST_ACTIONS.includes(button.dataset.action) || !confirmed(button)) return;
      page.sent(actions.host(button.dataset.action), button.dataset.action);
    });
    $("remove-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const pid = $("remove-input").value;
      if (!pid || !confirmed(event.submitter ?? event.currentTarget)) return;
      page.sent(actions.host("remove", pid), `remove ${pid}`);
    });
    $("invite-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      const role = form.elements.role.value;
      const hours = Math.min(720, Math.max(1, Number(form.elements.hours.value) || 24));
      page.sent(actions.invite(role, hours * 3600), `invitation for a ${role}`);
    });
    $("command-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      const device = form.elements.device.value.trim();
      const action = form.elements.action.value;
      if (!DEVICE_ID.test(device) || !ACTIONS.includes(action)) {
        page.showError("Name one of your devices (its id, like pod-lyra) and an action.");
        return;
      }
      const value = Number(form.elements.value.value);
      if (page.sent(actions.command(device, action, value), `${action} on ${device}`)) {
        this.showCommandResult(`${action} on ${device}: waiting for the device…`);
      }
    });
  }

  /** Keep the list of people the host may remove in step with the dreamscape. */
  showParticipants(people, me) {
    const select = $("remove-input");
    const wanted = people.filter((p) => p.id !== me);
    const signature = wanted.map((p) => `${p.id}:${p.name}`).join("\n");
    if (select.dataset.signature === signature) return;
    const chosen = select.value;
    const options = wanted.map((p) => el("option", { value: p.id }, `${p.name} (${p.id})`));
    select.replaceChildren(...options);
    if (wanted.some((p) => p.id === chosen)) select.value = chosen;
    select.dataset.signature = signature;
  }

  /** The session's join code (none: an open session), the link that carries it, and that
   * link as a QR code for a phone's camera. */
  showJoinCode(session, code) {
    const link = `${window.location.origin}/s/${session}` + (code ? `?code=${code}` : "");
    $("join-code").textContent = code ? `${code.slice(0, 4)}-${code.slice(4)}` : "none (open)";
    $("join-link").replaceChildren(el("a", { href: link }, link));
    $("copy-link").disabled = false;
    this.link = link;
    drawQr($("join-qr"), link);
  }

  async copyLink() {
    const result = $("copy-result");
    try {
      await navigator.clipboard.writeText(this.link);
      result.textContent = "copied";
    } catch {
      // no clipboard (an http page on another host, or permission refused): select it instead
      window.getSelection()?.selectAllChildren($("join-link"));
      result.textContent = "selected: copy it with Ctrl+C";
    }
  }

  /** A fresh invitation: a link that lets one role in until it expires. */
  showInvitation(session, invitation) {
    const mode = invitation.role === "watcher" ? "watch" : "s";
    const link = `${window.location.origin}/${mode}/${session}?token=${invitation.token}`;
    const until = new Date(invitation.expires * 1000).toLocaleString();
    $("invite-link").replaceChildren(
      `For a ${invitation.role}, until ${until}: `,
      el("a", { href: link, "data-testid": "invite-url" }, link),
    );
  }

  showCommandResult(text) {
    $("command-result").textContent = text;
  }
}

/** Draw `text` as a QR code on `canvas`: dark modules on white, with the quiet zone of four
 * modules that scanners need. */
export function drawQr(canvas, text) {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  const modules = qr.getModuleCount();
  const quiet = 4;
  const cell = Math.max(3, Math.floor(180 / (modules + 2 * quiet)));
  const size = (modules + 2 * quiet) * cell;
  canvas.width = size;
  canvas.height = size;
  const ink = canvas.getContext("2d");
  ink.fillStyle = "#ffffff";
  ink.fillRect(0, 0, size, size);
  ink.fillStyle = "#000000";
  for (let row = 0; row < modules; row += 1) {
    for (let col = 0; col < modules; col += 1) {
      if (qr.isDark(row, col)) ink.fillRect((col + quiet) * cell, (row + quiet) * cell, cell, cell);
    }
  }
  canvas.dataset.modules = String(modules);
}
