// The rooms the user is in: the data (from GET /rooms, then kept current by events) and
// the sidebar list `<ul id="room-list">`, newest activity first, with unread badges. A
// change to one room replaces that room's item and moves it to its place; the list is
// built whole only when the rooms are (re)loaded.
//
// A direct message can be closed from the list: it is hidden here (this browser, this user)
// until a newer message arrives in it or it is opened again, as chat apps do.

import { clear, formatBadge, h } from "./dom.js";

/** The name a deleted account goes by (the server's AccountDeletion.displayName). */
export const DELETED_USER = "Deleted user";

/**
 * Whether the other person of a direct message deleted their account. Deleting an account
 * leaves every room (DELETE /me), so the conversation has no other member: GET /rooms gives
 * no `peer`. A peer still listed as a deleted account (the server's AccountDeletion: display
 * name "Deleted user", username `deleted-<id>`, or `deleted-<id>-<hex>` when an older
 * account held that name) is one too.
 */
export function peerDeleted(room) {
  if (room.kind !== "direct") return false;
  const peer = room.peer;
  return !peer || (peer.displayName === DELETED_USER && /^deleted-\d+(-[0-9a-f]+)?$/.test(peer.username || ""));
}

/** What a room is called: its name, or for a direct message the other person's. */
export function roomName(room) {
  if (room.kind === "direct") return peerDeleted(room) ? DELETED_USER : room.peer.displayName || room.peer.username;
  return room.name;
}

export class RoomList {
  /** session: the Session (for GET /rooms); presence: the app's Presence (dots of direct-message peers). */
  constructor(session, presence) {
    this.session = session;
    this.presence = presence;
    this.rooms = new Map(); // id → room as GET /rooms gives it, kept current
    this.loaded = false;
    this.openId = null;
    this.list = h("ul", { class: "room-list", id: "room-list", "aria-label": "Your rooms" });
    this.onChange = () => {}; // after any change shown (the app updates the tab title)
    this.closedKey = `switchboard.closed-dms.${session.user?.id}`;
    this.closed = new Map(Object.entries(JSON.parse(localStorage.getItem(this.closedKey) || "{}")).map(([id, last]) => [Number(id), last]));
  }

  /**
   * Hides a direct message from the list until a message newer than its last one arrives.
   * Closing it reads it (POST /rooms/{id}/read up to its last message): a hidden room's
   * unread messages would otherwise stay in the tab title with nothing left to clear them.
   */
  close(roomId) {
    const room = this.rooms.get(roomId);
    if (!room || room.kind !== "direct") return;
    const lastId = room.lastMessage?.id ?? 0;
    if (room.unreadCount && lastId) {
      room.unreadCount = 0;
      room.mentionCount = 0;
      room.lastReadMessageId = Math.max(room.lastReadMessageId || 0, lastId);
      this.session.api("POST", `/rooms/${roomId}/read`, { messageId: lastId }).catch(() => {});
    }
    // Focus goes to the next conversation in the list (else the one above), as closing a tab
    // does, not to the page's body with the removed close button.
    const item = this.list.querySelector(`li[data-room-id="${roomId}"]`);
    const neighbour = (item?.nextElementSibling || item?.previousElementSibling)?.querySelector("a");
    this.closed.set(roomId, lastId);
    this.#saveClosed();
    this.update(roomId);
    const focusNeighbour = () => neighbour?.isConnected && neighbour.focus();
    if (this.openId === roomId) {
      window.addEventListener("hashchange", () => setTimeout(focusNeighbour, 0), { once: true });
      location.hash = "#/rooms";
    } else focusNeighbour();
  }

  /** Shows a closed direct message again. */
  reopen(roomId) {
    if (!this.closed.delete(roomId)) return;
    this.#saveClosed();
    this.update(roomId);
  }

  #hidden(room) {
    return this.closed.has(room.id) && (room.lastMessage?.id ?? 0) <= this.closed.get(room.id);
  }

  #saveClosed() {
    localStorage.setItem(this.closedKey, JSON.stringify(Object.fromEntries(this.closed)));
  }

  /** Unread messages over the rooms listed (a closed direct message is not). */
  get unreadTotal() {
    let total = 0;
    for (const room of this.rooms.values()) if (!this.#hidden(room)) total += room.unreadCount || 0;
    return total;
  }

  get size() {
    return this.rooms.size;
  }

  get(id) {
    return this.rooms.get(id);
  }

  has(id) {
    return this.rooms.has(id);
  }

  /** (Re)loads every room from GET /rooms and rebuilds the list. Throws APIError. */
  async load() {
    const answer = await this.session.api("GET", "/rooms");
    this.rooms = new Map(answer.rooms.map((room) => [room.id, room]));
    this.loaded = true;
    this.render();
    this.#loadPeerPresence();
  }

  /**
   * GET /rooms says nothing of presence: the online flag of each direct-message peer comes
   * from that room's GET /rooms/{id}/members (as the members panel's does), so the
   * sidebar's dots are right before a conversation is opened. Later changes come as
   * `presence` events. Failures leave the dot as it was.
   */
  #loadPeerPresence() {
    for (const room of this.rooms.values()) this.#loadPeerOf(room);
  }

  #loadPeerOf(room) {
    if (room.kind !== "direct" || !room.peer) return;
    this.session.api("GET", `/rooms/${room.id}/members`).then(({ members }) => {
      const peer = members.find((m) => m.user.id === room.peer.id);
      if (peer) this.presence.set(peer.user.id, peer.online);
    }).catch(() => {});
  }

  /** Adds or replaces a room (created, joined) and shows it. */
  put(room) {
    this.rooms.set(room.id, room);
    this.closed.delete(room.id) && this.#saveClosed();
    this.update(room.id);
    this.#loadPeerOf(room);
  }

  /** Forgets a room (left, deleted, removed from it). */
  remove(id) {
    this.rooms.delete(id);
    this.update(id);
  }

  /** Marks which room is open (its item is highlighted); null for none. */
  setOpen(id) {
    const previous = this.openId;
    this.openId = id;
    if (id !== null && this.closed.delete(id)) this.#saveClosed(); // opened again: listed again
    if (previous !== null && previous !== id && this.rooms.has(previous)) this.update(previous);
    if (id !== null && this.rooms.has(id)) this.update(id);
  }

  /** Takes a message as the room's last one if it is newer; true if it was. */
  noteMessage(room, message) {
    if (room.lastMessage && room.lastMessage.id >= message.id) return false;
    room.lastMessage = { id: message.id, authorId: message.authorId, body: message.body, createdAt: message.createdAt };
    if (this.closed.has(room.id) && message.id > this.closed.get(room.id)) {
      this.closed.delete(room.id); // a closed direct message comes back with news
      this.#saveClosed();
    }
    return true;
  }

  render() {
    clear(this.list);
    if (this.rooms.size === 0) this.list.append(h("li", { class: "muted" }, "No rooms yet."));
    else for (const room of this.#sorted()) if (!this.#hidden(room)) this.list.append(this.#item(room));
    this.onChange();
  }

  /** Shows one room's current state: replaces its item (or removes it) and keeps the order. */
  update(roomId) {
    const old = this.list.querySelector(`li[data-room-id="${roomId}"]`);
    const room = this.rooms.get(roomId);
    if (!room || this.#hidden(room)) {
      old?.remove();
      if (this.rooms.size === 0) this.render();
      this.onChange();
      return;
    }
    this.list.querySelector(":scope > li.muted")?.remove();
    old?.remove();
    const sorted = this.#sorted();
    const next = sorted.slice(sorted.indexOf(room) + 1).find((r) => !this.#hidden(r));
    const nextItem = next ? this.list.querySelector(`li[data-room-id="${next.id}"]`) : null;
    this.list.insertBefore(this.#item(room), nextItem);
    this.onChange();
  }

  #sorted() {
    const last = (room) => room.lastMessage?.id ?? 0;
    return [...this.rooms.values()].sort((a, b) => last(b) - last(a) || a.id - b.id);
  }

  #item(room) {
    const unread = room.unreadCount || 0;
    const isOpen = this.openId === room.id;
    const name = roomName(room);
    const dot = room.kind === "direct" && !peerDeleted(room) ? this.presence.dot(room.peer.id) : null;
    const kindLabel = { public: "#", private: "", direct: "@" }[room.kind] || "";
    const last = room.lastMessage;
    const preview = last ? (last.deletedAt || last.body === "" ? "message deleted" : last.body.slice(0, 80)) : room.topic || "";
    const mentioned = room.mentionCount || 0;
    const badge = unread > 0 ? h("span", { class: "badge", "aria-hidden": "true" }, formatBadge(unread)) : null;
    // Mentions of me beside the unread badge: "@2" (docs/PROTOCOL.md, "Mentions").
    const mentionBadge = mentioned > 0 ? h("span", { class: "badge mention-badge", "aria-hidden": "true" }, `@${formatBadge(mentioned)}`) : null;
    const label = (unread > 0 ? `${name}, ${formatBadge(unread)} unread` : name) + (mentioned > 0 ? `, ${formatBadge(mentioned)} mentioning you` : "");
    const close = room.kind === "direct"
      ? h("button", { type: "button", class: "close-dm", "aria-label": `Close the conversation with ${name}`, title: "Close", onclick: () => this.close(room.id) }, "×")
      : null;
    return h(
      "li",
      { "data-room-id": room.id, class: isOpen ? "active" : null },
      h(
        "a",
        { href: `#/rooms/${room.id}`, "aria-label": label, "aria-current": isOpen ? "page" : null, "data-unread": unread, "data-mentions": mentioned },
        h("span", { class: `kind kind-${room.kind}`, "aria-hidden": "true" }, kindLabel),
        // The dot follows the name, outside its ellipsis: a long name cuts itself, not the dot.
        h("span", { class: "room-text" }, h("span", { class: "room-line" }, h("span", { class: "room-name", dir: "auto" }, name), dot), h("span", { class: "preview", dir: "auto" }, preview)),
        badge,
        mentionBadge,
      ),
      close,
    );
  }
}
