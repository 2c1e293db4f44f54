// Mentions (docs/PROTOCOL.md, "Mentions"): `@username` in a message body. The server decides
// who was mentioned (message.mentions: the members' ids); here:
//   - markMentions: wraps each `@name` of a rendered body in <span class="mention">, and
//     "mention-me" on my own name, found by the server's rule;
//   - MentionAutocomplete: typing `@` and a few letters in the composer lists the room's members
//     whose username or display name starts with them (ArrowUp/ArrowDown, Enter or Tab to take,
//     Escape to close), as a listbox the textarea points at (aria-controls, aria-activedescendant; no
//     aria-expanded: a textarea's role, textbox, does not take it, and role=combobox is not
//     allowed on a textarea).

import { h } from "./dom.js";

const NAME_CHAR = /[A-Za-z0-9_.-]/;
const MAX_SUGGESTIONS = 8;

/** Whether `message` mentions the user `userId` (the server's resolution). */
export function mentionsUser(message, userId) {
  return userId != null && Array.isArray(message.mentions) && message.mentions.includes(userId);
}

/**
 * The `@name` runs of `text` by the server's rule: `@` at the start or after a character that
 * is not a letter, digit, `_ . - @`; then username characters; trailing `.` and `-` dropped;
 * 3–32 long. Yields {start, end, name} (UTF-16 indices; name lowercased).
 */
export function* mentionRuns(text) {
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "@") continue;
    const previous = i > 0 ? text[i - 1] : "";
    if (previous && (NAME_CHAR.test(previous) || previous === "@" || /[\p{L}\p{N}]/u.test(previous))) continue;
    let end = i + 1;
    while (end < text.length && NAME_CHAR.test(text[end])) end++;
    let stop = end;
    while (stop > i + 1 && (text[stop - 1] === "." || text[stop - 1] === "-")) stop--;
    const name = text.slice(i + 1, stop).toLowerCase();
    if (name.length >= 3 && name.length <= 32) yield { start: i, end: stop, name };
    i = end - 1;
  }
}

/**
 * Wraps the `@name` runs in the text nodes of `node` (a rendered body; links stay links) in
 * `<span class="mention">`; my own name also gets "mention-me". Only when the server resolved
 * someone (message.mentions), so a plain `@word` stays plain.
 */
export function markMentions(node, message, self) {
  if (!Array.isArray(message.mentions) || message.mentions.length === 0) return node;
  const mine = self?.username?.toLowerCase();
  const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
  const texts = [];
  for (let text = walker.nextNode(); text; text = walker.nextNode()) texts.push(text);
  for (const text of texts) {
    const runs = [...mentionRuns(text.data)];
    if (runs.length === 0) continue;
    const parts = [];
    let at = 0;
    for (const run of runs) {
      if (run.start > at) parts.push(text.data.slice(at, run.start));
      const isMe = run.name === mine;
      parts.push(h("span", { class: ["mention", isMe && "mention-me"], "data-username": run.name }, text.data.slice(run.start, run.end)));
      at = run.end;
    }
    if (at < text.data.length) parts.push(text.data.slice(at));
    text.replaceWith(...parts);
  }
  return node;
}

let nextListId = 0;

export class MentionAutocomplete {
  /**
   * input: the composer's textarea. members: () => [{user: {id, username, displayName}}], the
   * room's members as GET /rooms/{id}/members gives them. selfId: () => my id (not suggested).
   * Keys are taken before the composer's (capture), so Enter picks a suggestion instead of sending.
   */
  constructor(input, { members, selfId = () => null }) {
    this.input = input;
    this.members = members;
    this.selfId = selfId;
    this.items = [];
    this.active = -1;
    this.token = null; // {start, end} of the "@prefix" being completed
    const id = `mention-suggestions${nextListId++ || ""}`;
    this.list = h("ul", { class: "mention-suggestions", id, role: "listbox", "aria-label": "Members to mention", hidden: true });
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", id);
    input.addEventListener("input", () => this.update());
    input.addEventListener("click", () => this.update());
    input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    input.addEventListener("keydown", (event) => this.#onKey(event), { capture: true });
  }

  get isOpen() {
    return !this.list.hidden;
  }

  /** The `@prefix` right before the caret, or null. */
  #currentToken() {
    const { value, selectionStart, selectionEnd } = this.input;
    if (selectionStart !== selectionEnd) return null;
    let start = selectionStart;
    while (start > 0 && NAME_CHAR.test(value[start - 1])) start--;
    if (start === 0 || value[start - 1] !== "@") return null;
    const at = start - 1;
    const before = at > 0 ? value[at - 1] : "";
    if (before && (NAME_CHAR.test(before) || before === "@" || /[\p{L}\p{N}]/u.test(before))) return null;
    return { start: at, end: selectionStart, prefix: value.slice(start, selectionStart).toLowerCase() };
  }

  /** Re-reads the text before the caret and shows or hides the suggestions. */
  update() {
    const token = this.#currentToken();
    if (!token) return this.close();
    const me = this.selfId();
    const members = (this.members() || []).filter((m) => m.user.id !== me);
    const matches = members
      .filter((m) => m.user.username.toLowerCase().startsWith(token.prefix) || (m.user.displayName || "").toLowerCase().startsWith(token.prefix))
      .sort((a, b) => a.user.username.localeCompare(b.user.username))
      .slice(0, MAX_SUGGESTIONS);
    if (matches.length === 0) return this.close();
    this.token = token;
    this.items = matches;
    this.active = 0;
    this.#render();
  }

  #render() {
    this.list.replaceChildren(
      ...this.items.map((member, index) =>
        h(
          "li",
          {
            id: `${this.list.id}-${index}`,
            role: "option",
            class: index === this.active ? "active" : null,
            "aria-selected": String(index === this.active),
            "data-username": member.user.username,
            onmousedown: (event) => {
              event.preventDefault(); // keep the focus in the textarea
              this.pick(index);
            },
          },
          h("span", { class: "mention-username" }, `@${member.user.username}`),
          " ",
          h("span", { class: "mention-name", dir: "auto" }, member.user.displayName || ""),
        ),
      ),
    );
    this.list.hidden = false;
    this.input.setAttribute("aria-activedescendant", `${this.list.id}-${this.active}`);
  }

  close() {
    if (this.list.hidden) return;
    this.list.hidden = true;
    this.items = [];
    this.token = null;
    this.input.removeAttribute("aria-activedescendant");
  }

  /** Replaces the `@prefix` with `@username ` and closes the list. */
  pick(index) {
    const member = this.items[index];
    if (!member || !this.token) return;
    const { value } = this.input;
    const insert = `@${member.user.username} `;
    this.input.value = value.slice(0, this.token.start) + insert + value.slice(this.token.end);
    const caret = this.token.start + insert.length;
    this.input.setSelectionRange(caret, caret);
    this.close();
    this.input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  #onKey(event) {
    if (!this.isOpen || event.isComposing) return;
    const move = (delta) => {
      this.active = (this.active + delta + this.items.length) % this.items.length;
      this.#render();
    };
    switch (event.key) {
      case "ArrowDown":
        move(1);
        break;
      case "ArrowUp":
        move(-1);
        break;
      case "Enter":
      case "Tab":
        if (event.shiftKey) return;
        this.pick(this.active);
        break;
      case "Escape":
        this.close();
        break;
      default:
        return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}
