// The server administrators' screen, #/admin (issue 16; docs/openapi.yaml, /api/admin/…):
// server-wide counts (GET /admin/stats), the users with search and paging (GET /admin/users,
// `q` matches the start of a username, email or display name; `nextCursor` pages) with
// Disable / Enable (POST /admin/users/{id}/disable|enable: disabling revokes every session
// and disconnects their sockets at once; asked first with our own dialog) and each user's
// latest messages, and the rooms by last activity with member and online counts (GET
// /admin/rooms) and each room's members (GET /admin/rooms/{id}/members).
// Only linked for `serverRole: "admin"` (GET /me); the server answers 403 `admin_required`
// to anyone else, which the screen shows as such.

import { append, clear, formatTime, h, messageFor } from "./dom.js";
import { confirmDialog } from "./dialog.js";
import { guestBadge } from "./guest.js";

const PAGE = 25; // users and rooms per page
const SEARCH_DEBOUNCE_MS = 250;

const STATS = [
  ["users", "Accounts"],
  ["guests", "Guests"],
  ["admins", "Admins"],
  ["disabledUsers", "Disabled"],
  ["rooms", "Rooms"],
  ["messages", "Messages"],
  ["usersOnline", "People online"],
  ["socketsOnline", "Connections"],
];

/** context: {session, setContent} (see room-forms.js). */
export async function showAdmin(context) {
  const { session, setContent } = context;
  if (session.user?.serverRole !== "admin") {
    setContent("Administration", h("p", { class: "blocked-note", id: "admin-required" }, "Only the server's administrators can open this screen."));
    return;
  }
  const stats = new StatsSection(session);
  const users = new UsersSection(session);
  const rooms = new RoomsSection(session);
  setContent("Administration", stats.el, users.el, rooms.el);
  await Promise.all([stats.load(), users.load(true), rooms.load(true)]);
}

/** A section with a heading, an error line and a status line (what an action did). */
function section(id, title, ...children) {
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const el = h("section", { class: "admin-section", id, "aria-labelledby": `${id}-title` }, h("h3", { id: `${id}-title` }, title), error, ...children);
  const showError = (e) => {
    error.textContent = e ? messageFor(e) : "";
    error.hidden = !e;
  };
  return { el, showError };
}

function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

class StatsSection {
  constructor(session) {
    this.session = session;
    this.list = h("dl", { class: "admin-stats", id: "admin-stats" });
    const refresh = h("button", { type: "button", class: "secondary", id: "admin-stats-refresh", onclick: () => this.load() }, "Refresh");
    ({ el: this.el, showError: this.showError } = section("admin-stats-section", "Server", this.list, h("p", {}, refresh)));
  }

  async load() {
    try {
      const stats = await this.session.api("GET", "/admin/stats");
      this.showError(null);
      clear(this.list);
      for (const [key, label] of STATS) {
        this.list.append(h("div", { class: "stat", "data-stat": key }, h("dt", {}, label), h("dd", {}, String(stats[key] ?? 0))));
      }
    } catch (error) {
      this.showError(error);
    }
  }
}

class UsersSection {
  constructor(session) {
    this.session = session;
    this.cursor = null;
    this.query = "";
    this.asked = 0; // the newest search sent; older answers are dropped
    this.list = h("ul", { class: "admin-list", id: "admin-users", "aria-label": "Users" });
    this.status = h("p", { class: "success", role: "status", id: "admin-user-status" });
    this.more = h("button", { type: "button", class: "secondary", id: "admin-users-more", hidden: true, onclick: () => this.load(false) }, "More users");
    const search = h("input", { type: "search", id: "admin-user-query", name: "q", autocomplete: "off", maxlength: 64, "aria-describedby": "admin-user-query-hint" });
    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.query = search.value.trim();
        this.load(true);
      }, SEARCH_DEBOUNCE_MS);
    });
    const form = h(
      "form",
      { role: "search", class: "search", onsubmit: (event) => event.preventDefault() },
      h("label", { for: "admin-user-query" }, "Search users"),
      search,
      h("p", { class: "hint", id: "admin-user-query-hint" }, "The start of a username, email address or display name."),
    );
    ({ el: this.el, showError: this.showError } = section("admin-users-section", "Users", form, this.status, this.list, this.more));
  }

  async load(reset) {
    const ask = ++this.asked;
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (this.query) params.set("q", this.query);
    if (!reset && this.cursor) params.set("cursor", this.cursor);
    try {
      const answer = await this.session.api("GET", `/admin/users?${params}`);
      if (ask !== this.asked) return;
      this.showError(null);
      if (reset) clear(this.list);
      if (reset && answer.users.length === 0) this.list.append(h("li", { class: "muted" }, this.query ? "Nobody matches." : "No users yet."));
      for (const user of answer.users) this.list.append(this.item(user));
      this.cursor = answer.nextCursor || null;
      this.more.hidden = !this.cursor;
    } catch (error) {
      if (ask === this.asked) this.showError(error);
    }
  }

  item(user) {
    const self = user.id === this.session.user?.id;
    const name = user.displayName || user.username;
    const seen = user.online ? "online now" : user.lastSeenAt ? `last seen ${formatTime(user.lastSeenAt)}` : "never connected";
    const messages = h("div", { class: "admin-details", id: `admin-user-${user.id}-messages`, hidden: true });
    const li = h(
      "li",
      { "data-user-id": user.id, "data-username": user.username, "data-disabled": String(!!user.disabled) },
      h(
        "div",
        { class: "admin-item-text" },
        h("span", { class: "admin-name" }, h("bdi", {}, name), " ", h("span", { class: "muted" }, `@${user.username}`), guestBadge(user),
          user.serverRole === "admin" ? h("span", { class: "role" }, "admin") : null,
          user.disabled ? h("span", { class: "disabled-badge" }, "disabled") : null),
        h("span", { class: "preview" }, user.email ? [h("bdi", {}, user.email), user.emailVerified ? "" : " (unverified)", " · "] : "", seen, ` · joined ${formatTime(user.createdAt)}`),
      ),
      h(
        "div",
        { class: "admin-item-actions" },
        detailsToggle(`Messages of ${name}`, "Messages", messages, () => this.loadMessages(user, messages)),
        self ? null : this.toggleButton(user, name),
      ),
      messages,
    );
    return li;
  }

  toggleButton(user, name) {
    const disable = !user.disabled;
    const button = h(
      "button",
      {
        type: "button",
        class: disable ? "danger" : "primary",
        "data-action": disable ? "disable" : "enable",
        "aria-label": `${disable ? "Disable" : "Enable"} ${name} (@${user.username})`,
        onclick: async () => {
          if (disable) {
            const ok = await confirmDialog({
              title: `Disable @${user.username}?`,
              text: "Every session of theirs ends now and their open pages are logged out; they cannot log in until you enable the account again.",
              confirmLabel: "Disable account",
              danger: true,
            });
            if (!ok) return;
          }
          button.disabled = true;
          try {
            const changed = await this.session.api("POST", `/admin/users/${user.id}/${disable ? "disable" : "enable"}`);
            this.showError(null);
            const li = button.closest("li");
            li.replaceWith(this.item(changed));
            this.status.textContent = disable ? `@${user.username} is disabled and logged out everywhere.` : `@${user.username} can log in again.`;
            this.list.querySelector(`li[data-user-id="${user.id}"] [data-action]`)?.focus();
          } catch (error) {
            button.disabled = false;
            this.showError(error);
          }
        },
      },
      disable ? "Disable" : "Enable",
    );
    return button;
  }

  async loadMessages(user, box) {
    clear(box).append(h("p", { class: "muted" }, "Loading…"));
    try {
      const answer = await this.session.api("GET", `/admin/users/${user.id}/messages?limit=20`);
      clear(box);
      if (answer.messages.length === 0) {
        box.append(h("p", { class: "muted" }, "No messages."));
        return;
      }
      append(box, [
        h("ul", { class: "admin-messages" }, answer.messages.map((m) =>
          h("li", {}, h("span", { class: "muted" }, m.roomKind === "direct" ? "Direct message" : ["# ", h("bdi", {}, m.roomName || `room ${m.roomId}`)], ` · ${formatTime(m.createdAt)}`), " ", h("span", { dir: "auto" }, m.body)))),
        answer.hasMore ? h("p", { class: "muted" }, "Only the latest 20 are shown.") : null,
      ]);
    } catch (error) {
      clear(box).append(h("p", { class: "error" }, messageFor(error)));
    }
  }
}

class RoomsSection {
  constructor(session) {
    this.session = session;
    this.cursor = null;
    this.list = h("ul", { class: "admin-list", id: "admin-rooms", "aria-label": "Rooms" });
    this.more = h("button", { type: "button", class: "secondary", id: "admin-rooms-more", hidden: true, onclick: () => this.load(false) }, "More rooms");
    ({ el: this.el, showError: this.showError } = section("admin-rooms-section", "Rooms by last activity", this.list, this.more));
  }

  async load(reset) {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (!reset && this.cursor) params.set("cursor", this.cursor);
    try {
      const answer = await this.session.api("GET", `/admin/rooms?${params}`);
      this.showError(null);
      if (reset) clear(this.list);
      if (reset && answer.rooms.length === 0) this.list.append(h("li", { class: "muted" }, "No rooms yet."));
      for (const room of answer.rooms) this.list.append(this.item(room));
      this.cursor = answer.nextCursor || null;
      this.more.hidden = !this.cursor;
    } catch (error) {
      this.showError(error);
    }
  }

  item(room) {
    const kind = { public: "Public", private: "Private", direct: "Direct message" }[room.kind] || room.kind;
    const title = room.kind === "direct" || !room.name ? h("span", {}, kind) : ["# ", h("bdi", {}, room.name)];
    const members = h("div", { class: "admin-details", id: `admin-room-${room.id}-members`, hidden: true });
    const label = room.name ? room.name : `${kind} ${room.id}`;
    return h(
      "li",
      { "data-room-id": room.id, "data-online": room.onlineCount },
      h(
        "div",
        { class: "admin-item-text" },
        h("span", { class: "admin-name" }, title),
        h("span", { class: "preview" },
          room.kind === "direct" ? "" : `${kind} · `,
          plural(room.memberCount, "member"), " · ",
          h("span", { class: "online-count" }, `${room.onlineCount} online`),
          room.allowGuests ? " · guests allowed" : "",
          room.lastMessageAt ? ` · last message ${formatTime(room.lastMessageAt)}` : " · no messages"),
      ),
      h("div", { class: "admin-item-actions" }, detailsToggle(`Members of ${label}`, "Members", members, () => this.loadMembers(room, members))),
      members,
    );
  }

  async loadMembers(room, box) {
    clear(box).append(h("p", { class: "muted" }, "Loading…"));
    try {
      const answer = await this.session.api("GET", `/admin/rooms/${room.id}/members`);
      clear(box).append(
        h("ul", { class: "admin-members" }, answer.members.map((m) =>
          h("li", { "data-user-id": m.user.id }, h("bdi", {}, m.user.displayName || m.user.username), " ", h("span", { class: "muted" }, `@${m.user.username}`), guestBadge(m.user),
            m.role !== "member" && m.role !== "guest" ? h("span", { class: "role" }, m.role) : null, m.online ? " · online" : ""))),
      );
    } catch (error) {
      clear(box).append(h("p", { class: "error" }, messageFor(error)));
    }
  }
}

/** A button showing or hiding `box` (aria-expanded), running `load` each time it opens. */
function detailsToggle(accessibleName, text, box, load) {
  const button = h("button", { type: "button", class: "secondary", "aria-expanded": "false", "aria-controls": box.id, "aria-label": accessibleName }, text);
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    box.hidden = !open;
    if (open) load();
  });
  return button;
}
