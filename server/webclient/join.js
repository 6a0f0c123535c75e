// The join page: pick a session (those this server hosts are offered), a name and a role,
// then go to the dreamscape.

import { NAME_MAX, ROLES, SESSION_ID } from "/static/protocol.js";

const form = document.getElementById("join-form");
const sessionInput = document.getElementById("session-input");
const nameInput = document.getElementById("name-input");
const codeInput = document.getElementById("code-input");
const problem = document.getElementById("join-error");
const offered = document.getElementById("sessions");

/** One offered session: its title and id, how many are here, whether a code is needed. */
function sessionChoice(session) {
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.session = session.id;
  const title = document.createElement("b");
  title.textContent = session.title;
  const details = document.createElement("span");
  details.className = "muted small";
  const here = session.people === 1 ? "1 here" : `${session.people} here`;
  details.textContent = ` ${session.id} · ${here} · ${session.open ? "open" : "join code"}`;
  button.append(title, details);
  button.addEventListener("click", () => {
    sessionInput.value = session.id;
    for (const other of offered.querySelectorAll("button")) {
      other.setAttribute("aria-pressed", String(other === button));
    }
    (nameInput.value ? (session.open ? nameInput : codeInput) : nameInput).focus();
  });
  const item = document.createElement("li");
  item.append(button);
  return item;
}

/** Offer the sessions the server is hosting; the first is chosen unless one was typed. */
async function offerSessions() {
  let sessions = [];
  try {
    const response = await fetch("/sessions.json", { cache: "no-store" });
    if (response.ok) sessions = (await response.json()).sessions ?? [];
  } catch {
    // no list: the session is typed, as before
  }
  offered.replaceChildren(...sessions.map(sessionChoice));
  document.getElementById("sessions-empty").hidden = sessions.length > 0;
  if (sessions.length > 0 && !sessionInput.value) offered.querySelector("button").click();
}

/** "Sleep Commons " -> "sleep-commons": what a person types, as a session id. */
export function sessionFrom(text) {
  return text.trim().toLowerCase().replace(/\s+/g, "-").replace(/[^a-z0-9-]/g, "").slice(0, 64);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const session = sessionFrom(sessionInput.value);
  const name = nameInput.value.trim().slice(0, NAME_MAX);
  const role = new FormData(form).get("role");
  if (!SESSION_ID.test(session)) {
    problem.textContent = "A session name uses letters, digits and dashes, and starts with one "
      + "letter or digit.";
    sessionInput.focus();
    return;
  }
  if (!name) {
    problem.textContent = "Tell the others your name.";
    nameInput.focus();
    return;
  }
  const params = new URLSearchParams({ name, role: ROLES.includes(role) ? role : "dreamer" });
  const code = codeInput.value.replace(/[^A-Za-z0-9]/g, "").toUpperCase();
  if (code) params.set("code", code);
  window.location.assign(`/s/${session}?${params}`);
});

offerSessions();
