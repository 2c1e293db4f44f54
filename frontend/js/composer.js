// The message box of the open room: Enter sends, Shift+Enter starts a new line, and
// typing notices go out while the person types (`typing: true` at most every
// TYPING_SEND_EVERY ms, `typing: false` after TYPING_IDLE ms of quiet, on an empty box,
// or on sending; the server forwards `true` at most every 2 s, docs/PROTOCOL.md).

import { h } from "./dom.js";

const TYPING_SEND_EVERY = 2000; // ms
const TYPING_IDLE = 3000; // ms

export class Composer {
  /**
   * name: the room's display name (label and placeholder).
   * onSend: (body) => void; body is trimmed and never empty.
   * sendTyping: (typing: boolean) => void; a typing notice for the room.
   */
  constructor({ name, onSend, sendTyping }) {
    this.sendTyping = sendTyping;
    this.typingSent = false;
    this.typingLastSent = 0; // ms since the epoch
    this.typingIdle = null;
    this.input = h("textarea", { id: "composer-input", name: "body", rows: 1, maxlength: 4000, required: true, autocomplete: "off", placeholder: `Message ${name}` });
    this.form = h(
      "form",
      { class: "composer", id: "composer", novalidate: true },
      h("p", { class: "form-error", role: "alert", hidden: true }),
      h("label", { for: "composer-input", class: "visually-hidden" }, `Message ${name}`),
      this.input,
      h("button", { type: "submit", class: "primary", id: "send-button" }, "Send"),
    );
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = this.input.value.trim();
      if (!body) return;
      this.input.value = "";
      onSend(body);
      this.input.focus();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.input.addEventListener("input", () => this.#onInput());
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
