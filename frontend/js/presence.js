// Who is online, as the `presence` events and member lists report it, and the dots that
// show it (room list, room header, members panel). One dot per place; all of a user's
// dots change together.

import { h } from "./dom.js";

export class Presence {
  /** `root`: the element under which this user's dots are looked up on a change. */
  constructor(root) {
    this.root = root;
    this.online = new Map(); // userId → boolean
  }

  isOnline(userId) {
    return this.online.get(userId) === true;
  }

  /** A new dot for `userId`: `<span class="dot online|offline" data-user-id>` with hidden text. */
  dot(userId) {
    const online = this.isOnline(userId);
    return h("span", { class: `dot ${online ? "online" : "offline"}`, "data-user-id": userId, title: online ? "online" : "offline" }, h("span", { class: "visually-hidden" }, online ? " (online)" : " (offline)"));
  }

  /** Records a user's state without touching the page (from a member list). */
  remember(userId, online) {
    this.online.set(userId, online);
  }

  /** Records a user's state and updates every dot of theirs on the page. */
  set(userId, online) {
    this.online.set(userId, online);
    for (const dot of this.root.querySelectorAll(`.dot[data-user-id="${userId}"]`)) {
      dot.className = `dot ${online ? "online" : "offline"}`;
      dot.title = online ? "online" : "offline";
      dot.firstChild.textContent = online ? " (online)" : " (offline)";
    }
  }
}
