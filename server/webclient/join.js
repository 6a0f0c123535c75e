// The join page: pick a session, a name and a role, then go to the dreamscape.

import { NAME_MAX, ROLES, SESSION_ID } from "/static/protocol.js";

const form = document.getElementById("join-form");
const sessionInput = document.getElementById("session-input");
const nameInput = document.getElementById("name-input");
const codeInput = document.getElementById("code-input");
const problem = document.getElementById("join-error");

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
