// Brief notices of the night's moments (moments.js), read out by screen readers (a polite
// live region) and gone after a few seconds; at most a few on screen at once.

const SHOWN_MS = 6000;
const AT_ONCE = 3;

export class NoticeBoard {
  constructor(parent = document.body) {
    this.list = document.createElement("div");
    this.list.className = "moments";
    this.list.dataset.testid = "moments";
    this.list.setAttribute("role", "log");
    this.list.setAttribute("aria-live", "polite");
    this.list.setAttribute("aria-label", "what just happened");
    parent.append(this.list);
  }

  /** Show `moment` ({ kind, text }) for a few seconds; the oldest goes when too many are up. */
  show(moment) {
    const notice = document.createElement("p");
    notice.className = "moment";
    notice.dataset.kind = moment.kind;
    notice.textContent = moment.text; // text, never markup: names come from other people
    this.list.append(notice);
    while (this.list.children.length > AT_ONCE) this.list.firstElementChild.remove();
    setTimeout(() => notice.remove(), SHOWN_MS);
  }
}
