// A served replay's controls: a scrubber over the recorded night, play/pause and the speed.
// The connection has its own playback on the server, steered with `playback` messages
// (docs/protocol.md); the scrubber follows the state's `t` unless a finger is on it, and the
// night follows the finger. Until the snapshot that answers a move arrives, the deltas still
// on their way come from where the night was: the scrubber stays where it was sent. A page
// that is not a replay has none of it: the controls come from a template, added once the
// server has said that it replays.

export const SPEEDS = [1, 4, 16, 60];
// While the scrubber is dragged the night follows it this often (the server takes at most
// 10 moves a second); where it is let go is sought in any case.
const SEEK_WHILE_DRAGGING_MS = 250;
// A move the server refused is answered by no snapshot: past this the states count again.
const ANSWER_WAIT_MS = 3000;

const $ = (id) => document.getElementById(id);

/** Seconds as h:mm:ss (or m:ss under an hour). */
export function clockText(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export class ReplayControls {
  /** Adds the controls to the status bar; `steer({at, speed})` moves this connection's
   * playback (either may be null: unchanged). */
  constructor(steer) {
    this.steer = steer;
    $("fullscreen").after($("replay-template").content.cloneNode(true)); // the bar's last row
    this.root = $("replay-controls");
    this.scrubber = $("replay-scrubber");
    this.time = $("replay-time");
    this.play = $("replay-play");
    this.speedChoice = $("replay-speed");
    this.duration = 0;
    this.speed = 1;
    this.playing = true;
    this.dragging = false;
    this.soughtAt = -Infinity; // when the last move while dragging was sent (ms)
    this.unanswered = 0; // moves sent whose snapshot has not come yet
    this.answerDue = -Infinity; // when the last of them should have been answered (ms)
    this.scrubber.addEventListener("input", () => {
      this.dragging = true;
      const at = Number(this.scrubber.value);
      this.showTime(at);
      const now = performance.now();
      if (now - this.soughtAt >= SEEK_WHILE_DRAGGING_MS) {
        this.soughtAt = now;
        this.seek(at);
      }
    });
    this.scrubber.addEventListener("change", () => {
      this.dragging = false;
      this.seek(Number(this.scrubber.value));
    });
    this.play.addEventListener("click", () => {
      this.playing = !this.playing;
      this.showPlaying();
      this.steer({ at: null, speed: this.playing ? this.speed : 0 });
    });
    this.speedChoice.addEventListener("change", () => {
      this.speed = Number(this.speedChoice.value);
      if (this.playing) this.steer({ at: null, speed: this.speed });
    });
  }

  /** A replay of `durationS` seconds whose playback starts at `speed` (0: as fast as can be). */
  show(durationS, speed) {
    this.duration = durationS;
    this.scrubber.max = String(durationS);
    this.speed = speed > 0 ? speed : SPEEDS.at(-1);
    if (!SPEEDS.includes(this.speed)) {
      this.speedChoice.append(new Option(`${this.speed}×`, String(this.speed)));
    }
    this.speedChoice.value = String(this.speed);
    this.showPlaying();
    this.showTime(0);
  }

  /** The state shown now (`why`: "welcome", "delta" or "snapshot"): the scrubber and the
   * time follow it, unless being dragged or a move is still unanswered. True when it is the
   * snapshot that answers a move. */
  update(state, why) {
    const answers = why === "snapshot" && this.unanswered > 0;
    if (answers) this.unanswered -= 1;
    if (performance.now() > this.answerDue) this.unanswered = 0;
    if (this.dragging || this.unanswered > 0) return answers;
    this.scrubber.value = String(state.t);
    this.showTime(state.t);
    return answers;
  }

  /** After a reconnection (which starts at the beginning): back to where the page was. */
  resume(t) {
    this.unanswered = 0;
    this.seek(Math.min(t, this.duration), this.playing ? this.speed : 0);
  }

  seek(at, speed = null) {
    this.unanswered += 1;
    this.answerDue = performance.now() + ANSWER_WAIT_MS;
    this.steer({ at, speed });
  }

  showTime(t) {
    this.time.textContent = `${clockText(t)} / ${clockText(this.duration)}`;
    this.scrubber.setAttribute("aria-valuetext", clockText(t));
  }

  showPlaying() {
    this.play.textContent = this.playing ? "Pause" : "Play";
    this.play.setAttribute("aria-pressed", String(!this.playing));
  }
}
