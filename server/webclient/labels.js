// Where the canvas' labels go so that none covers another, nor sits under a panel over the
// canvas: the strongest first, each at its anchor or the nearest free spot above or below
// it, and a label with no free spot left out (a weaker label gives way to a stronger one).
// Pure: boxes in, boxes out.

/** The spots tried for a label, as multiples of its height (dx, dy) from its anchor. */
const SPOTS = [
  [0, 0], [0, -1.15], [0, 1.15], [0, -2.3], [0, 2.3], [0, -3.45], [0, 3.45],
];

const overlaps = (a, b) =>
  a.x - a.width / 2 < b.x + b.width / 2 &&
  b.x - b.width / 2 < a.x + a.width / 2 &&
  a.y - a.height / 2 < b.y + b.height / 2 &&
  b.y - b.height / 2 < a.y + a.height / 2;

/**
 * Lay out `labels` ({ text, x, y, width, height, strength }: centre and size in pixels) in a
 * canvas `width` × `height`. Returns the labels that are shown, each with the centre it is
 * drawn at and its `spot`, strongest first; no two of them overlap. `spots` (text -> the spot
 * it had in the last frame) keeps a label where it was when its anchor is taken, rather
 * than letting it hop between the spots above and below as its neighbours drift. `covered`
 * ({ x, y, width, height }, centred like the labels) is where the canvas cannot be read:
 * no label is put there.
 */
export function layoutLabels(labels, width, height, spots = new Map(), covered = []) {
  const placed = [];
  const order = [...labels].sort((a, b) => b.strength - a.strength);
  for (const label of order) {
    const halfW = label.width / 2;
    const halfH = label.height / 2;
    const before = spots.get(label.text);
    const tried = before ? [0, before, ...SPOTS.keys()] : SPOTS.keys();
    for (const spot of tried) {
      const [dx, dy] = SPOTS[spot];
      const box = {
        ...label,
        spot,
        x: Math.min(Math.max(label.x + dx * label.width, halfW), Math.max(halfW, width - halfW)),
        y: Math.min(Math.max(label.y + dy * label.height, halfH), Math.max(halfH, height - halfH)),
      };
      const hidden = (other) => overlaps(box, other);
      if (!placed.some(hidden) && !covered.some(hidden)) {
        placed.push(box);
        break;
      }
    }
  }
  return placed;
}
