// The members panel of the open room: owners first, then admins, then members, each with
// a presence dot and (for others) a button that opens a direct message with them; kept
// current from `room:member` and `presence` events.

import { clear, h } from "./dom.js";
import { guestBadge } from "./guest.js";

const ROLE_ORDER = { owner: 0, admin: 1, moderator: 2, member: 3, guest: 4 };

export class MembersPanel {
  /**
   * presence: the app's Presence (dots and who is online). selfId: () => my user id.
   * onMessage: (user) => void; the "Message" button of another member.
   * blocked: () => why that button cannot work yet (it is disabled, saying so), or null.
   * menu: (member) => a member's moderation menu (moderation.js), or null when I can do nothing to them.
   */
  constructor(presence, { selfId = () => null, onMessage = null, blocked = () => null, menu = null } = {}) {
    this.presence = presence;
    this.menu = menu;
    this.blocked = blocked;
    this.selfId = selfId;
    this.onMessage = onMessage;
    this.members = []; // [{user: {id, username, displayName}, role, online}]
    this.list = h("ul", { class: "members", id: "members" });
    this.panel = h("aside", { class: "members-panel", id: "members-panel", "aria-label": "Members" }, h("h3", {}, "Members"), this.list);
  }

  /** The answer of GET /rooms/{id}/members. */
  set(members) {
    this.members = members;
    this.render();
    // Every dot of theirs on the page (the sidebar's, the header's) follows, not only these.
    for (const member of members) this.presence.set(member.user.id, member.online);
  }

  /** Whether `userId` is listed. */
  has(userId) {
    return this.members.some((m) => m.user.id === userId);
  }

  /**
   * Someone joined, or (a `joined` event about a listed member) their role changed, as
   * when an owner leaves and the room passes to the longest-standing member.
   */
  joined(user, role) {
    const member = this.members.find((m) => m.user.id === user.id);
    if (member) member.role = role || member.role;
    else this.members.push({ user, role: role || "member", online: this.presence.isOnline(user.id), joinedAt: new Date().toISOString() });
    this.render();
  }

  /**
   * Whether `userId` (an owner) must hand the room over before leaving: others remain and
   * none of them is an owner (the server answers 409 `last_owner`, docs/openapi.yaml).
   */
  mustHandOver(userId) {
    const others = this.members.filter((m) => m.user.id !== userId);
    return others.length > 0 && !others.some((m) => m.role === "owner");
  }

  /** Someone left or was removed; false if they were not listed. */
  left(userId) {
    const index = this.members.findIndex((m) => m.user.id === userId);
    if (index < 0) return false;
    this.members.splice(index, 1);
    this.render();
    return true;
  }

  setOnline(userId, online) {
    const member = this.members.find((m) => m.user.id === userId);
    if (member) member.online = online;
  }

  /** A member's display name (or username); "Someone" for a user not listed. */
  nameOf(userId) {
    const member = this.members.find((m) => m.user.id === userId);
    return member ? member.user.displayName || member.user.username : "Someone";
  }

  showError(text) {
    clear(this.list).append(h("li", { class: "error" }, text));
  }

  render() {
    clear(this.list);
    const blocked = this.blocked();
    const members = [...this.members].sort((a, b) => (ROLE_ORDER[a.role] ?? 3) - (ROLE_ORDER[b.role] ?? 3) || (a.user.displayName || "").localeCompare(b.user.displayName || ""));
    for (const member of members) {
      this.list.append(
        h(
          "li",
          { "data-user-id": member.user.id, "data-username": member.user.username },
          this.presence.dot(member.user.id),
          h("span", { class: "member-name", dir: "auto" }, member.user.displayName || member.user.username),
          h("span", { class: "member-username" }, ` @${member.user.username}`),
          // A guest's role is "guest": the badge says it once (guest.js).
          member.user.guest ? guestBadge(member.user) : member.role !== "member" ? h("span", { class: "role" }, member.role) : null,
          // No direct messages with a guest (the server answers guest_not_allowed).
          this.onMessage && member.user.id !== this.selfId() && !member.user.guest
            ? h("button", { type: "button", class: "link-button message-member", "aria-label": `Message ${member.user.displayName || member.user.username}`, disabled: !!blocked, title: blocked, onclick: () => this.onMessage(member.user) }, "Message")
            : null,
          this.menu ? this.menu(member) : null,
        ),
      );
    }
  }
}
