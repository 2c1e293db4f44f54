// The message box of the open room: Enter sends, Shift+Enter starts a new line (the box
// grows with its text up to its CSS max-height, then scrolls), a counter shows what is left
// of the length limit near it and how far over it is past it (sending is off while over;
// nothing is cut), and typing notices go out while the person types (`typing: true` at most
// every TYPING_SEND_EVERY ms, `typing: false` after TYPING_IDLE ms of quiet, on an empty
// box, or on sending; the server forwards `true` at most every 2 s, docs/PROTOCOL.md).

import { h } from "./dom.js";

const TYPING_SEND_EVERY = 2000; // ms
const TYPING_IDLE = 3000; // ms
/** The longest message body, in Unicode scalars (characters) as the server counts it (docs/openapi.yaml). */
export const MAX_BODY = 4000;
const COUNT_FROM = MAX_BODY - 500; // the counter shows from this many characters on

/** Characters as the server counts them: Unicode scalars, not UTF-16 code units. */
export function scalarLength(text) {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

export class Composer {
  /**
   * name: the room's display name (label and placeholder).
   * onSend: (body) => void; body is trimmed and never empty.
   * onCommand: (text) => void; a line starting with "/" (a command, moderation.js), never
   *   sent as a message; "//text" sends "/text".
   * sendTyping: (typing: boolean) => void; a typing notice for the room.
   */
  constructor({ name, onSend, onCommand = null, sendTyping }) {
    this.sendTyping = sendTyping;
    this.typingSent = false;
    this.typingLastSent = 0; // ms since the epoch
    this.typingIdle = null;
    this.count = h("p", { class: "composer-count", id: "composer-count", "aria-live": "polite", hidden: true });
    this.input = h("textarea", { id: "composer-input", name: "body", rows: 1, required: true, autocomplete: "off", dir: "auto", placeholder: `Message ${name}`, "aria-describedby": "composer-count composer-note" });
    this.button = h("button", { type: "submit", class: "primary", id: "send-button" }, "Send");
    this.note = h("p", { class: "composer-note", id: "composer-note", hidden: true });
    this.form = h(
      "form",
      { class: "composer", id: "composer", novalidate: true },
      h("p", { class: "form-error", role: "alert", hidden: true }),
      this.note,
      (this.label = h("label", { for: "composer-input", class: "visually-hidden" }, `Message ${name}`)),
      this.input,
      this.button,
      this.count,
    );
    this.disabledReason = null;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = this.input.value.trim();
      if (!body || this.disabledReason || scalarLength(body) > MAX_BODY) return;
      this.input.value = "";
      this.#refresh();
      if (onCommand && body.startsWith("/") && !body.startsWith("//")) {
        this.stopTyping();
        onCommand(body);
      } else {
        onSend(onCommand && body.startsWith("//") ? body.slice(1) : body);
      }
      this.input.focus();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.input.addEventListener("input", () => {
      this.#refresh();
      this.#onInput();
    });
  }

  /** The room's new name (renamed): the label and the placeholder follow. */
  rename(name) {
    this.label.textContent = `Message ${name}`;
    this.input.placeholder = `Message ${name}`;
  }

  /**
   * Turns the composer off with `reason` shown above it (e.g. an unverified address), or
   * back on with null. What was typed stays.
   */
  setDisabled(reason) {
    this.disabledReason = reason || null;
    this.note.textContent = reason || "";
    this.note.hidden = !reason;
    this.input.disabled = !!reason;
    this.#refresh();
  }

  /** Fits the box to its text and updates the counter and the send button. */
  #refresh() {
    const box = this.input;
    box.style.height = "auto";
    // Empty, the box is one line: Chromium's scrollHeight counts a wrapped placeholder.
    box.style.height = box.value ? `${box.scrollHeight + box.offsetHeight - box.clientHeight}px` : "";
    // Counted as sent: trimmed (the server trims too), so trailing spaces or a final new line
    // never push a message that fits over the limit.
    const length = scalarLength(box.value.trim());
    const over = length > MAX_BODY;
    const characters = (n) => `${n} ${n === 1 ? "character" : "characters"}`;
    this.count.hidden = length < COUNT_FROM;
    this.count.classList.toggle("over", over);
    this.count.textContent = over
      ? `${characters(length - MAX_BODY)} over the limit of ${MAX_BODY}`
      : `${characters(MAX_BODY - length)} left`;
    if (over) box.setAttribute("aria-invalid", "true");
    else box.removeAttribute("aria-invalid");
    this.button.disabled = over || !!this.disabledReason;
  }

  /** Says "stopped typing" if "typing" was the last thing said (on send and on leaving the room). */
  stopTyping() {
    clearTimeout(this.typingIdle);
    if (this.typingSent) this.#notify(false);
  }

  #onInput() {
    if (this.input.value.trim() === "") {
      this.stopTyping();
      return;
    }
    if (!this.typingSent || Date.now() - this.typingLastSent > TYPING_SEND_EVERY) this.#notify(true);
    clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => this.#notify(false), TYPING_IDLE);
  }

  #notify(typing) {
    this.typingSent = typing;
    this.typingLastSent = Date.now();
    this.sendTyping(typing);
  }
}
