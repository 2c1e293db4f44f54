// Who is online, as the `presence` events and member lists report it, and the dots that
// show it (room list, room header, members panel). One dot per place; all of a user's
// dots change together. While our own socket is not connected, what we know may be out of
// date: every dot shows "unknown" (grey ring) until the socket is back.

import { h } from "./dom.js";

const LOOK = {
  online: { title: "online", text: " (online)" },
  offline: { title: "offline", text: " (offline)" },
  unknown: { title: "status unknown while reconnecting", text: " (status unknown)" },
};

export class Presence {
  /** `root`: the element under which this user's dots are looked up on a change. */
  constructor(root) {
    this.root = root;
    this.online = new Map(); // userId → boolean
    this.stale = false; // our socket is not connected
  }

  isOnline(userId) {
    return this.online.get(userId) === true;
  }

  /** A new dot for `userId`: `<span class="dot online|offline|unknown" data-user-id>` with hidden text. */
  dot(userId) {
    const dot = h("span", { "data-user-id": userId }, h("span", { class: "visually-hidden" }));
    this.#paint(dot, userId);
    return dot;
  }

  /** Records a user's state and updates every dot of theirs on the page. */
  set(userId, online) {
    this.online.set(userId, online);
    for (const dot of this.root.querySelectorAll(`.dot[data-user-id="${userId}"]`)) this.#paint(dot, userId);
  }

  /** Our own connection went away (true) or came back (false): every dot shows it. */
  setStale(stale) {
    if (this.stale === stale) return;
    this.stale = stale;
    for (const dot of this.root.querySelectorAll(".dot[data-user-id]")) this.#paint(dot, Number(dot.dataset.userId));
  }

  #paint(dot, userId) {
    const state = this.stale ? "unknown" : this.isOnline(userId) ? "online" : "offline";
    dot.className = `dot ${state}`;
    dot.title = LOOK[state].title;
    dot.firstChild.textContent = LOOK[state].text;
  }
}
