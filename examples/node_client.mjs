// A dreamcommons client for Node, written from docs/protocol.md alone, in plain JavaScript
// with no package at all: Node's own WebSocket (Node 22 and newer; on Node 20, run it with
// `node --experimental-websocket`) and the JSON encoding.
//
//   node examples/node_client.mjs ws://127.0.0.1:8765/commons [NAME] [CODE]
//
// It joins as a dreamer, contributes a motif, and follows the deltas until the server says
// the motif was merged. Then it checks the dreamscape it built from the deltas: a second
// connection, a watcher, asks for a snapshot, and the state held at the snapshot's seq must
// be the snapshot's, field by field. It prints one JSON line and exits 1 if the two differ.

const SUBPROTOCOL = "dreamcommons.v2.json";
const byKey = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** JSON with every object's keys sorted: equal text means equal values. */
const canonical = (value) =>
  JSON.stringify(value, (_, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => byKey(a, b)))
      : v,
  );

/** The state after `delta`, as docs/protocol.md says a delta is applied. */
function applyDelta(state, delta) {
  const motifs = new Map(state.motifs.map((m) => [m.name, m]));
  for (const name of delta.removed ?? []) motifs.delete(name);
  for (const update of delta.motifs ?? []) {
    motifs.set(update.name, { ...(motifs.get(update.name) ?? {}), ...update, t: delta.t });
  }
  const people = new Map(state.participants.map((p) => [p.id, p]));
  for (const id of delta.left ?? []) people.delete(id);
  for (const p of delta.participants ?? []) people.set(p.id, p);
  const limit = state.whisper_limit;
  const whispers = limit ? [...state.whispers, ...(delta.whispers ?? [])].slice(-limit) : [];
  const changed = {};
  for (const key of ["mood", "scene", "people"]) if (delta[key] != null) changed[key] = delta[key];
  return {
    ...state,
    ...changed,
    seq: delta.seq,
    t: delta.t,
    motifs: [...motifs.keys()].sort(byKey).map((k) => motifs.get(k)),
    whispers,
    participants: [...people.keys()].sort(byKey).map((k) => people.get(k)),
  };
}

/** A delta's `applied` pairs as id -> cid: a number key is the step from the last numbered
 * id (`p` and the number in hex), a string key the id itself. */
function applied(delta) {
  const pairs = delta.applied ?? [];
  const merged = {};
  for (let i = 0, number = 0; i + 1 < pairs.length; i += 2) {
    if (typeof pairs[i] === "string") merged[pairs[i]] = pairs[i + 1];
    else merged[`p${(number += pairs[i]).toString(16)}`] = pairs[i + 1];
  }
  return merged;
}

/** Opens a connection and joins; resolves with it and its welcome. */
function join(url, name, role, code, onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, SUBPROTOCOL);
    const session = url.replace(/\/+$/, "").split("/").pop();
    ws.onopen = () => {
      const frame = { type: "join", v: 2, session, name, role };
      ws.send(JSON.stringify(code ? { ...frame, code } : frame));
    };
    ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== "welcome") return reject(new Error(`refused: ${message.code}`));
      ws.onmessage = (next) => onMessage(JSON.parse(next.data));
      resolve([ws, message]);
    };
  });
}

/** Resolves once `test()` holds, checked after every message; rejects after `seconds`. */
function until(test, seconds, what, checks) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} in ${seconds} s`)), seconds * 1000);
    const check = () => (test() ? (clearTimeout(timer), resolve(), true) : false);
    if (!check()) checks.push(check);
  });
}

async function main() {
  const [url, name = "Ada", code = null] = process.argv.slice(2);
  if (!url) throw new Error("usage: node node_client.mjs ws://HOST:PORT/SESSION [NAME] [CODE]");
  const history = new Map();
  const checks = [];
  let state = null;
  let me = null;
  let merged = false;
  let expected = null;
  const notify = () => checks.splice(0).forEach((check) => check() || checks.push(check));
  const [ws, welcome] = await join(url, name, "dreamer", code, (message) => {
    if (message.type === "delta") {
      if (message.seq !== state.seq + 1) return ws.send(JSON.stringify({ type: "resync" }));
      state = applyDelta(state, message);
      if ((applied(message)[me] ?? -1) >= 1) merged = true;
    } else if (message.type === "snapshot") {
      state = message.state;
    } else if (message.type === "error") {
      console.error(`error ${message.code}: ${message.message}`);
    }
    history.set(state.seq, state);
    notify();
  });
  state = welcome.state;
  me = welcome.participant;
  history.set(state.seq, state);
  ws.send(JSON.stringify({ type: "contribute", cid: 1, motif: "lantern", intensity: 0.9 }));
  await until(() => merged, 10, "merge of the contribution", checks);

  const [watcher] = await join(url, "Checker", "watcher", code, (message) => {
    if (message.type === "snapshot" && expected === null) expected = message.state;
    notify();
  });
  watcher.send(JSON.stringify({ type: "resync" }));
  await until(() => expected !== null && history.has(expected.seq), 10, "snapshot", checks);
  const held = history.get(expected.seq);
  const same = canonical(held) === canonical(expected);
  watcher.close();
  ws.close();
  const motifs = held.motifs.map((m) => m.name);
  console.log(JSON.stringify({ seq: expected.seq, motifs, matches_snapshot: same }));
  process.exitCode = same ? 0 : 1;
}

main().catch((error) => {
  console.error(error.message);
  process.exitCode = 2;
});
