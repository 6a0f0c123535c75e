// The dreamscape page: reads the mode and the session from the path, then wires the
// connection (connection.js) to the canvas (render.js), the page around it (ui.js) and,
// on /host/, the host's console (host.js).

import { DreamConnection } from "/static/connection.js";
import { askHostKey, forgetHostKey, HostConsole, hostKey } from "/static/host.js";
import { NAME_MAX, PEOPLE_PAGE, ROLES, SESSION_ID } from "/static/protocol.js";
import { NightPlots } from "/static/plots.js";
import { DreamscapeRenderer } from "/static/render.js";
import { ReplayControls } from "/static/replay.js";
import { DreamPage } from "/static/ui.js";

// The page's routes: /s/SESSION, /watch/SESSION, /host/SESSION, the name as the contracts say.
const ROUTE = new RegExp(`^/(s|watch|host)/(${SESSION_ID.source.slice(1, -1)})$`);

function sessionStorageOrNull() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: no resume after a reload, nothing worse
  }
}

/** A name for someone who gave none, kept for the tab so that a reload resumes them. */
function guestName(storage) {
  const key = "dreamcommons:guest";
  let name = null;
  try {
    name = storage?.getItem(key) ?? null;
    if (!name) {
      name = `guest-${Math.floor(100 + Math.random() * 900)}`;
      storage?.setItem(key, name);
    }
  } catch {
    name ??= "guest"; // storage disabled: a guest all the same
  }
  return name;
}

/** { mode, session, role, name, code, token } from /s|watch|host/SESSION?name=...&role=...
 * (&code=... the session's join code, &token=... an invitation, whose role it takes) */
export function route(location, storage) {
  const match = ROUTE.exec(location.pathname);
  if (!match) return null;
  const [, mode, session] = match;
  const params = new URLSearchParams(location.search);
  const token = params.get("token") || null;
  const asked = params.get("role") ?? invitedRole(token);
  const fixed = { watch: "watcher", host: "host" }[mode];
  const role = fixed ?? (ROLES.includes(asked) ? asked : "dreamer");
  const fallback = { watch: "watcher", host: "host" }[mode] ?? guestName(storage);
  const name = (params.get("name") ?? "").trim().slice(0, NAME_MAX) || fallback;
  return { mode, session, role, name, code: params.get("code") || null, token };
}

/** The role an invitation names (read, not checked: the server checks it). */
function invitedRole(token) {
  try {
    const body = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(body)).r ?? null;
  } catch {
    return null;
  }
}

/** The address to load again with `code` as the join code (an invitation that failed is
 * dropped, the rest of the address kept). */
export function withCode(location, code) {
  const params = new URLSearchParams(location.search);
  params.delete("token");
  params.set("code", code);
  return `${location.pathname}?${params}`;
}

/** What this server says of the session: its venue's title, and whether it is a replay
 * (`onReplay(durationS, speed)`: its length, the pace it starts at). */
async function describeSession(page, session, onReplay) {
  try {
    const response = await fetch("/sessions.json", { cache: "no-store" });
    if (!response.ok) return;
    const listing = await response.json();
    const listed = (listing.sessions ?? []).find((s) => s.id === session);
    page.showSession(listed, listing.replay === true);
    if (listing.replay === true && typeof listed?.duration_s === "number") {
      onReplay(listed.duration_s, listed.speed ?? 1);
    }
  } catch {
    // an older server, or none: the page does without the title
  }
}

async function main() {
  const storage = sessionStorageOrNull();
  const where = route(window.location, storage);
  if (where === null) {
    window.location.replace("/");
    return;
  }
  const page = new DreamPage(where);
  const plots = new NightPlots(document.getElementById("plots"), where.mode);
  const renderer = new DreamscapeRenderer(document.getElementById("dreamscape"));
  renderer.setHint("connecting to the dream…");
  renderer.keepLabelsClearOf(document.querySelectorAll(".panel"));
  renderer.start();
  let connection = null;
  let replay = null; // a served replay's controls
  describeSession(page, where.session, (durationS, speed) => {
    replay = new ReplayControls(({ at, speed: pace }) => connection.playback({ at, speed: pace }));
    replay.show(durationS, speed);
  });

  let key = null;
  if (where.role === "host") {
    key = hostKey(where.session, window.location, storage);
    if (key === null) {
      page.showConnection("waiting", "for the host key");
      key = await askHostKey(where.session, storage);
    }
  }

  let host = null;
  let lastAck = null;
  let latest = null;
  // A large room's states list only its hosts and shown stages; the pages the user asked for
  // hold everyone else, so that the host can remove anyone they can see.
  const everyone = new Map();
  const removable = () => {
    const people = new Map(everyone);
    for (const p of latest?.participants ?? []) people.set(p.id, p);
    return [...people.values()];
  };
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  connection = new DreamConnection(
    {
      url: `${scheme}://${window.location.host}/${where.session}`,
      session: where.session,
      name: where.name,
      role: where.role,
      key,
      code: where.code,
      token: where.token,
      storage,
    },
    {
      onStatus(status, detail, error) {
        page.showConnection(status, detail);
        if (status === "connected" && detail === "" && latest !== null && replay !== null) {
          replay.resume(latest.t); // a reconnected replay starts at the beginning: go back
        }
        if (status === "connected") {
          host?.showJoinCode(where.session, connection.joinCode);
          page.showMe(where.session, connection.identity.resume);
          page.setWhisperLimit(connection.whisperMax);
          const quiet = where.role === "dreamer" || where.role === "waker" ? ": add a motif" : "";
          renderer.setHint(`the dream is quiet${quiet}`);
        } else if (["refused", "replaced", "removed"].includes(status)) {
          page.showError(detail);
          renderer.setHint(status === "refused" ? "not let in" : `you were ${status}`);
        }
        if (status !== "refused") return;
        if (where.role === "host" && error?.code === "forbidden") {
          forgetHostKey(where.session, storage);
          askHostKey(where.session, storage, detail).then(() => window.location.reload());
        } else {
          page.showRefusal(detail, (code) => window.location.assign(withCode(location, code)));
        }
      },
      onState(state, why) {
        if (replay?.update(state, why)) plots.restart(); // the night moved: start again from it
        if (state.scene?.phase === "ended") renderer.setHint("the session has ended");
        latest = state;
        page.showState(state, connection.participant);
        host?.showParticipants(removable(), connection.participant);
        renderer.update(state, connection.tickHz, connection.clock);
        plots.update(state, connection.participant, connection.clock);
      },
      onReply(message, request) {
        const what = request?.label ?? "request";
        if (message.type === "ack") {
          const merged = request?.type === "contribute" || request?.type === "whisper";
          lastAck = merged ? { cid: message.cid, what } : null;
          page.showStatus(merged ? `${what}: accepted, joining the dream…` : `${what}: done.`);
        } else if (message.type === "paired") {
          page.addDevice(message.device);
          page.showStatus(`Paired ${message.device} (${message.kind}, ${message.model}).`);
        } else if (message.type === "invitation") {
          host?.showInvitation(where.session, message);
          page.showStatus(`${what}: ready.`);
        } else if (message.type === "people") {
          if (message.offset === 0) everyone.clear();
          for (const p of message.participants) everyone.set(p.id, p);
          page.showEveryone(message);
          host?.showParticipants(removable(), connection.participant);
        } else if (message.type === "command_result") {
          const outcome = message.ok ? "done" : `failed: ${message.error ?? "no reason given"}`;
          host?.showCommandResult(`${message.action} on ${message.device}: ${outcome}`);
        }
      },
      onApplied(cid) {
        if (lastAck !== null && cid >= lastAck.cid) {
          page.showStatus(`${lastAck.what}: in the dream.`);
          lastAck = null;
        }
      },
      onRefused(error, request) {
        const what = request ? `${request.label}: refused` : "The server refused a request";
        page.showError(`${what} (${error.code}): ${error.message}`);
        if (request?.type === "command") host?.showCommandResult(`${request.label}: refused`);
      },
    },
  );
  page.bindControls({
    contribute: (values) => connection.contribute(values),
    whisper: (text) => connection.whisper(text),
    share: (level) => connection.share(level),
    showStage: (show) => connection.showStage(show),
    pair: (code) => connection.pair(code),
    everyone: (offset) => connection.people(offset, PEOPLE_PAGE),
  });
  if (where.role === "host") {
    host = new HostConsole(page, {
      host: (action, participant) => connection.host(action, participant),
      command: (device, action, value) => connection.command(device, action, value),
      invite: (role, ttlS) => connection.invite(role, ttlS),
    });
  }
  window.addEventListener("pagehide", () => connection.stop());
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) connection.start(); // back from the back-forward cache
  });
  connection.start();
}

main();
