// The messages of the open room: `<ol id="messages">` inside its scroller, kept in id
// order, changed one node at a time. A message that arrives inserts one `<li>`; a page of
// history inserts its nodes above; nothing already shown is rebuilt. Messages being sent
// stay below the stored ones (pending, then failed with Retry/Discard) until the stored
// copy with the same clientMsgId arrives.
//
// The DOM stays bounded: while the reader is at the bottom, more than MAX_RENDERED stored
// messages drop the oldest ones; "Load earlier messages" (or scrolling up) fetches them
// again.
//
// Consecutive messages of one author within GROUP_WITHIN_MS show the name and time once; a
// day separator stands above each day's first message; times are relative ("just now",
// "5 min. ago") for the first hour and redrawn every TIME_REFRESH_MS. These are classes and
// separator items around the message nodes, which stay as they are.
//
// Opening a room with unread messages puts a "New messages" divider above the first of them
// and scrolls to it. Away from the bottom, a button under the list jumps to the latest
// message, counting the messages of others that arrived meanwhile.
//
// Screen readers hear new messages of others from a separate polite live region
// (`#message-announcer`, role=log), not from the list: the list is no live region, so the
// history a room opens with, earlier pages and a catch-up are not read out. At most
// ANNOUNCE_BURST messages are read per ANNOUNCE_WINDOW_MS; the rest of a burst is one line,
// "5 more new messages", when the window ends (WCAG 2.2 SC 4.1.3 status messages, without
// flooding the speech queue). My own messages are not announced.

import { guestBadge } from "./guest.js";
import { clear, formatDay, formatRelativeTime, h, linkify, messageFor } from "./dom.js";
import { markMentions, mentionsUser } from "./mentions.js";

/** Stored messages kept on the page while the reader is at the bottom (4 pages of 50). */
export const MAX_RENDERED = 200;
const NEAR_TOP_PX = 120; // scrolled this close to the top: load earlier messages
const NEAR_BOTTOM_PX = 80; // this close to the bottom counts as "at the bottom"
const GROUP_WITHIN_MS = 5 * 60 * 1000; // one author's messages this close together share one name and time
const TIME_REFRESH_MS = 30 * 1000; // relative times ("5 min. ago") are redrawn this often
const ANNOUNCE_BURST = 3; // messages read out one by one per window...
const ANNOUNCE_WINDOW_MS = 3000; // ...of this many ms; the rest are counted
const ANNOUNCE_KEEP = 6; // lines kept in the announcer (older ones have been read)
const ANNOUNCE_EXCERPT = 200; // characters of a body read out

export class MessageList {
  /**
   * name: the room's display name (for the list's label).
   * selfId: () => the logged-in user's id (their messages are "mine").
   * onNearTop: () => void; asked to load earlier messages (it checks whether it may).
   * onRetry: (clientMsgId, body) => void; the Retry button of a failed send.
   */
  constructor({ name, selfId, onNearTop, onRetry }) {
    this.selfId = selfId;
    this.onNearTop = onNearTop;
    this.onRetry = onRetry;
    this.messages = []; // stored messages on the page, ascending id
    this.nodes = new Map(); // message id → its <li>
    this.pending = new Map(); // clientMsgId → {body, el}
    this.hasMore = true; // earlier messages exist that are not on the page
    // The list stays a list (its items are list items to assistive technology) and is no live
    // region: new messages are announced by `announcer` (see the top of this file). Day
    // separators, the "New messages" divider and timeline lines are plain items of it (a list
    // may hold only list items: no role=separator / note on them).
    this.list = h("ol", { class: "messages", id: "messages", "aria-label": `Messages in ${name}`, tabindex: "0" });
    this.older = h("button", { type: "button", class: "link-button load-older", hidden: true, onclick: () => this.onNearTop() }, "Load earlier messages");
    this.scroller = h("div", { class: "message-scroller", id: "message-scroller" }, this.older, this.list);
    this.announcer = h("div", { class: "visually-hidden", id: "message-announcer", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
    this.announcedInWindow = 0;
    this.unannounced = 0;
    this.announceTimer = null;
    this.unseen = 0; // messages of others that arrived while the reader was away from the bottom
    this.jump = h("button", { type: "button", class: "jump-latest", id: "jump-latest", hidden: true, onclick: () => this.scrollToBottom() }, "Jump to latest ↓");
    this.view = h("div", { class: "message-view" }, this.scroller, this.jump, this.announcer);
    this.timeRefresher = setInterval(() => this.#refreshTimes(), TIME_REFRESH_MS);
    this.scroller.addEventListener("scroll", () => {
      if (this.scroller.scrollTop < NEAR_TOP_PX) this.onNearTop();
      else if (this.nearBottom()) this.#trim();
      this.#renderJump();
    });
  }

  /** The room's new name (renamed): the list's label follows. */
  rename(name) {
    this.list.setAttribute("aria-label", `Messages in ${name}`);
  }

  /** The list is gone: stops redrawing times and announcing. */
  stop() {
    clearInterval(this.timeRefresher);
    clearTimeout(this.announceTimer);
  }

  get first() {
    return this.messages[0];
  }

  get last() {
    return this.messages[this.messages.length - 1];
  }

  /** Shows a line that is not a message (a load error); the next message that arrives removes it. */
  notice(text, kind = "error") {
    this.list.append(h("li", { class: ["system", kind] }, text));
  }

  /**
   * A line about the room, not a message (someone joined or left, the room was renamed):
   * shown in the timeline where it happened, never stored, never unread, never a message
   * of the list's count. Follows it down when the reader is at the bottom.
   */
  addEvent(text) {
    const nearBottom = this.nearBottom();
    this.list.querySelector(":scope > li.system")?.remove();
    this.list.insertBefore(h("li", { class: "event-line" }, h("bdi", {}, text)), this.#firstPendingEl());
    if (nearBottom) this.scrollToBottom();
  }

  /** Shows the "Loading…" label on the load-earlier button while `loading`. */
  loadingOlder(loading) {
    this.older.textContent = loading ? "Loading…" : "Load earlier messages";
    this.older.hidden = !this.hasMore;
  }

  /**
   * Adds stored messages (any order; ones already shown are skipped) at their places by id.
   * mode: "initial" (the first page: scrolls to the bottom, says so if the room is empty),
   * "prepend" (an earlier page: the reader's view stays where it was), or "append" (new
   * ones: follows them when the reader was at the bottom or the message is their own).
   * A stored message settles the pending send with its clientMsgId.
   */
  add(messages, mode, { lastReadId = null } = {}) {
    const fresh = messages.filter((m) => !this.nodes.has(m.id)).sort((a, b) => a.id - b.id);
    if (fresh.length === 0 && mode !== "initial") return;
    const me = this.selfId();
    const nearBottom = this.nearBottom();
    const oldHeight = this.scroller.scrollHeight;
    if (fresh.length > 0 || mode === "initial") for (const el of this.list.querySelectorAll(":scope > li.system")) el.remove();
    for (const message of fresh) {
      const pending = message.clientMsgId ? this.pending.get(message.clientMsgId) : null;
      if (pending && message.authorId === me) {
        this.pending.delete(message.clientMsgId);
        pending.el.remove();
      }
      this.#insert(message);
    }
    if (fresh.length > 0) this.#decorate();
    if (this.messages.length === 0 && this.pending.size === 0) this.notice("No messages yet. Say hello!", null);
    this.older.hidden = !this.hasMore;
    const mine = fresh.some((m) => m.authorId === me);
    if (mode === "initial") this.unreadAfter = lastReadId;
    const divider = mode === "initial" || mode === "prepend" ? this.#placeDivider() : null;
    if (divider && mode === "initial") {
      // "New messages" above the first unread one, scrolled near the top of the view.
      this.scroller.scrollTop += divider.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top - 8;
    } else if (mode === "prepend") this.scroller.scrollTop += this.scroller.scrollHeight - oldHeight;
    else if (mode === "initial" || nearBottom || mine) this.scrollToBottom();
    else if (mode === "append") this.unseen += fresh.filter((m) => m.authorId !== me).length;
    this.#renderJump();
    if (mode === "append" && (nearBottom || mine)) this.#trim();
    if (mode === "append") this.#announce(fresh.filter((m) => m.authorId !== me));
    if (mode === "initial" && this.hasMore && this.scroller.scrollHeight <= this.scroller.clientHeight) this.onNearTop();
  }

  /** Shows a send in progress at the bottom (or shows an earlier one as sending again). */
  addPending(clientMsgId, body) {
    if (!this.pending.has(clientMsgId)) {
      const el = h("li", { class: "message mine pending", "data-client-msg-id": clientMsgId });
      this.pending.set(clientMsgId, { body, el });
      if (this.messages.length === 0) this.list.querySelector(":scope > li.system")?.remove();
      this.list.append(el);
    }
    this.#renderPending(clientMsgId, "sending");
    this.scrollToBottom();
  }

  /** Marks a pending send as failed with `error`'s text, Retry and Discard; false if it settled meanwhile. */
  failPending(clientMsgId, error) {
    if (!this.pending.has(clientMsgId)) return false;
    const nearBottom = this.nearBottom();
    this.#renderPending(clientMsgId, "failed", error);
    // Its error line and buttons grew the item: keep them in view, not clipped below.
    if (nearBottom) this.scrollToBottom();
    return true;
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.#renderJump();
  }

  /** The jump button: shown away from the bottom, with the count of unseen messages. */
  #renderJump() {
    if (this.nearBottom()) this.unseen = 0;
    this.jump.hidden = this.nearBottom();
    this.jump.textContent = this.unseen > 0 ? `${this.unseen} new message${this.unseen === 1 ? "" : "s"} below ↓` : "Jump to latest ↓";
  }

  // ---- internals ----

  /** Reads `messages` (new, of others) out through the announcer, at most ANNOUNCE_BURST per window. */
  #announce(messages) {
    for (const message of messages) {
      if (this.announcedInWindow < ANNOUNCE_BURST) {
        const author = message.author ? message.author.displayName || message.author.username : "Someone";
        this.#say(`${author}: ${[...(message.body || "")].slice(0, ANNOUNCE_EXCERPT).join("")}`);
        this.announcedInWindow++;
      } else this.unannounced++;
    }
    if (messages.length > 0 && !this.announceTimer) this.announceTimer = setTimeout(() => this.#endAnnounceWindow(), ANNOUNCE_WINDOW_MS);
  }

  #endAnnounceWindow() {
    this.announceTimer = null;
    const rest = this.unannounced;
    this.unannounced = 0;
    this.announcedInWindow = 0;
    if (rest === 0) return;
    this.#say(`${rest} more new message${rest === 1 ? "" : "s"}`);
    this.announcedInWindow = 1; // the summary counts: a burst still going on stays counted
    this.announceTimer = setTimeout(() => this.#endAnnounceWindow(), ANNOUNCE_WINDOW_MS);
  }

  #say(text) {
    this.announcer.append(h("p", {}, text));
    while (this.announcer.childElementCount > ANNOUNCE_KEEP) this.announcer.firstElementChild.remove();
  }

  /** Inserts one stored message before the first shown message with a larger id (or the pending ones). */
  #insert(message) {
    const list = this.messages;
    let low = 0;
    let high = list.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (list[mid].id < message.id) low = mid + 1;
      else high = mid;
    }
    const el = this.#item(message);
    this.decorateItem?.(el, message); // replies, reactions, actions (message-actions.js)
    const next = low < list.length ? this.nodes.get(list[low].id) : this.#firstPendingEl();
    list.splice(low, 0, message);
    this.nodes.set(message.id, el);
    this.list.insertBefore(el, next ?? null);
  }

  /**
   * Puts the "New messages" divider above the first message of others after the read cursor
   * the room opened with (`unreadAfter`) among those on the page; null when there is none.
   * With more unread messages than the first page, that is the page's first one until earlier
   * pages arrive: then the divider moves up to the real first unread one (it used to stay
   * on top, above messages that had been read).
   */
  #placeDivider() {
    if (this.unreadAfter === null || this.unreadAfter === undefined) return null;
    const me = this.selfId();
    const first = this.messages.find((m) => m.id > this.unreadAfter && m.authorId !== me);
    if (!first) return null;
    const node = this.nodes.get(first.id);
    const divider = this.list.querySelector(":scope > li.unread-divider") || h("li", { class: "unread-divider", id: "unread-divider" }, h("span", {}, "New messages"));
    // Above the day separator right above it, if any (#decorate keeps a separator right above its day's first message).
    const before = node.previousElementSibling?.classList.contains("day-separator") ? node.previousElementSibling : node;
    if (divider.nextElementSibling !== before) this.list.insertBefore(divider, before);
    return divider;
  }

  /** Pending sends are the last items of the list; the first of them, if any. */
  #firstPendingEl() {
    return this.list.querySelector(":scope > li[data-client-msg-id]");
  }

  /**
   * Groups consecutive messages of one author and puts a separator above each day's first
   * message. One pass over the shown messages (at most MAX_RENDERED + a page); message nodes
   * only get a class, separators are the only nodes added or removed.
   */
  #decorate() {
    const existing = new Map([...this.list.querySelectorAll(":scope > li.day-separator")].map((el) => [el.dataset.day, el]));
    let previous = null;
    for (const message of this.messages) {
      const node = this.nodes.get(message.id);
      const day = new Date(message.createdAt).toDateString();
      const sameDay = previous && new Date(previous.createdAt).toDateString() === day;
      const grouped = !!(sameDay && previous.authorId === message.authorId && Date.parse(message.createdAt) - Date.parse(previous.createdAt) < GROUP_WITHIN_MS
        && node.previousElementSibling === this.nodes.get(previous.id));
      node.classList.toggle("grouped", grouped);
      if (!sameDay) {
        let separator = existing.get(day);
        existing.delete(day);
        if (!separator) separator = h("li", { class: "day-separator", "data-day": day, "data-date": message.createdAt }, h("span", {}, formatDay(message.createdAt)));
        if (node.previousElementSibling !== separator) this.list.insertBefore(separator, node);
      }
      previous = message;
    }
    for (const stale of existing.values()) stale.remove();
  }

  /** Redraws the relative times ("just now" → "1 min. ago" → "14:05") and the separators' day names. */
  #refreshTimes() {
    const now = Date.now();
    for (const time of this.list.querySelectorAll("li.message time[datetime]")) {
      const text = formatRelativeTime(time.dateTime, now);
      if (time.textContent !== text) time.textContent = text;
    }
    // Past midnight "Today" is "Yesterday".
    for (const separator of this.list.querySelectorAll(":scope > li.day-separator[data-date] > span")) {
      const text = formatDay(separator.parentElement.dataset.date, now);
      if (separator.textContent !== text) separator.textContent = text;
    }
  }

  /** Drops the oldest stored messages beyond MAX_RENDERED; they can be loaded again. */
  #trim() {
    const excess = this.messages.length - MAX_RENDERED;
    if (excess <= 0) return;
    for (const message of this.messages.splice(0, excess)) {
      this.nodes.get(message.id)?.remove();
      this.nodes.delete(message.id);
    }
    this.#decorate();
    this.hasMore = true;
    this.older.hidden = false;
    this.scrollToBottom();
  }

  #item(message) {
    const mine = message.authorId === this.selfId();
    const author = message.author ? message.author.displayName || message.author.username : `User ${message.authorId}`;
    return h(
      "li",
      { class: ["message", mine && "mine", mentionsUser(message, this.selfId()) && "mentions-me"], "data-message-id": message.id },
      h("div", { class: "meta" }, h("span", { class: "author", dir: "auto" }, mine ? "You" : author), guestBadge(message.author), " ", h("time", { datetime: message.createdAt, title: new Date(message.createdAt).toLocaleString() }, formatRelativeTime(message.createdAt))),
      markMentions(h("p", { class: "body", dir: "auto" }, linkify(message.body)), message, this.selfUser?.()),
    );
  }

  #renderPending(clientMsgId, status, error) {
    const pending = this.pending.get(clientMsgId);
    const el = pending.el;
    clear(el);
    el.classList.toggle("failed", status === "failed");
    el.classList.toggle("pending", status === "sending");
    el.dataset.status = status;
    const meta = h("div", { class: "meta" }, h("span", { class: "author" }, "You"), " ", h("span", { class: "state" }, status === "sending" ? "Sending…" : "Not sent"));
    el.append(meta, h("p", { class: "body", dir: "auto" }, pending.body));
    if (status !== "failed") return;
    const retry = h("button", { type: "button", class: "link-button retry", onclick: () => this.onRetry(clientMsgId, pending.body) }, "Retry");
    const discard = h(
      "button",
      {
        type: "button",
        class: "link-button discard",
        onclick: () => {
          this.pending.delete(clientMsgId);
          el.remove();
        },
      },
      "Discard",
    );
    el.append(h("p", { class: "send-error", role: "alert" }, `${messageFor(error)} `, retry, " ", discard));
  }
}
