// The moments of a night: what changed between two states that people should hear of (the
// scene fractured, was harmonized, healed; the phase moved on; someone's device came online).
// Pure: a state in, a list of moments out, for the notices and the plots' markers alike.

/** How a participant is shown: their name, and their tag when another has the same name. */
export function who(participant) {
  return participant.tag ? `${participant.name} #${participant.tag}` : participant.name;
}

const PHASES = {
  gathering: "The gathering begins",
  descent: "The descent begins",
  dream: "The dream begins",
  awakening: "The awakening begins",
  ended: "The session has ended",
};

const figure = (v) => (v === null || v === undefined ? "—" : v.toFixed(2));

/** Each moment is { kind, t, text }; kind is fracture, harmonize, heal, phase or device.
 * Nothing is a moment before the page holds a state to compare with. */
export function momentsBetween(before, after) {
  if (!before?.scene || !after?.scene) return [];
  const moments = [];
  const t = after.t;
  const was = before.scene;
  const now = after.scene;
  if (now.phase !== was.phase) {
    moments.push({ kind: "phase", t, text: PHASES[now.phase] ?? `Phase: ${now.phase}` });
  }
  if (now.fractured && !was.fractured) {
    const regions = now.regions.length;
    moments.push({
      kind: "fracture",
      t,
      text: `The dream fractured into ${regions} regions: coherence ${figure(now.coherence)}, ` +
        `chance ${figure(now.chance)}`,
    });
  }
  if (now.harmonizing && !was.harmonizing) {
    moments.push({ kind: "harmonize", t, text: "Harmonizing: the devices pace the sleepers' breath" });
  }
  if (was.fractured && !now.fractured && now.coherence !== null) {
    moments.push({
      kind: "heal",
      t,
      text: `The dream healed: coherence ${figure(now.coherence)}, chance ${figure(now.chance)}`,
    });
  }
  const held = new Map(before.participants.map((p) => [p.id, p]));
  for (const p of after.participants) {
    const earlier = held.get(p.id);
    if (earlier !== undefined && p.devices > earlier.devices) {
      moments.push({ kind: "device", t, text: `${who(p)}'s device is online` });
    }
  }
  return moments;
}
