// The logged-in part of the app: the shell (sidebar, content pane, connection state,
// verify banner), the routes inside it, and the realtime events of docs/PROTOCOL.md
// handed to the parts they concern. The parts:
//   room-list.js   the rooms and the sidebar list with unread badges
//   room-view.js   the open room (message-list.js, composer.js, members.js)
//   room-forms.js  create, discover, join by code, direct message
//   sessions.js    the sessions screen
//   settings.js    display name, password, logging out the other sessions
//   dialog.js      our confirmation dialog
//   notifications.js  desktop notifications for direct messages and mentions, per-room mute
//   banner.js      the "verify your email" banner
//   guest.js       what guests cannot do, their badge, a room's "Allow guests" setting
//   admin.js       the server admins' screen (#/admin)
//   chat-socket.js the socket: authentication, refused connections, acks
//   presence.js, typing.js  who is online, who is typing

import { $, append, clear, formatBadge, h, messageFor } from "./dom.js";
import { DisconnectReason, MessageChangeEvent, ModerationEvent, ServerEvent, SocketEvent } from "./events.js";
import { VerifyBanner } from "./banner.js";
import { confirmDialog } from "./dialog.js";
import { ChatSocket } from "./chat-socket.js";
import { Presence } from "./presence.js";
import { RoomList, roomName } from "./room-list.js";
import { RoomView } from "./room-view.js";
import { showCreateRoom, showDirect, showDiscover, showJoinByCode, showRoomCreated } from "./room-forms.js";
import { showSessions } from "./sessions.js";
import { showSettings } from "./settings.js";
import { showSearch } from "./search.js";
import { mentionsUser } from "./mentions.js";
import { Notifier } from "./notifications.js";
import { Typists } from "./typing.js";
import { GUEST_SCOPE, guestReason, guestSidebarNote, isGuest } from "./guest.js";
import { showAdmin } from "./admin.js";

const CONNECTION_TEXT = { connected: "Online", connecting: "Connecting…", waiting: "Reconnecting…", closed: "Offline", idle: "" };

export class ChatApp {
  /**
   * session: the Session. root: the element the app fills. navigate: (hash) => void.
   * setTitle: (text) => void. notice: (text, kind: "info" | "error") => void.
   * requireVerifiedEmail: whether posting, creating rooms and direct messages need a
   * verified address (the server's REQUIRE_VERIFIED_EMAIL, from /app-config.json).
   */
  constructor(session, { root, navigate, setTitle, notice, requireVerifiedEmail = true }) {
    this.requireVerifiedEmail = requireVerifiedEmail;
    this.session = session;
    this.root = root;
    this.navigate = navigate;
    // The tab's title carries the unread total: "(3) Room · Switchboard", and the icon a badge.
    this.baseTitle = "";
    this.setTitle = (text) => {
      this.baseTitle = text;
      this.renderUnreadTotal();
    };
    this.appSetTitle = setTitle;
    this.notice = notice;
    this.presence = new Presence(root);
    this.rooms = new RoomList(session, this.presence);
    this.rooms.onChange = () => this.renderUnreadTotal();
    this.typists = new Typists((roomId) => {
      if (this.view?.id === roomId) this.view.renderTyping();
    });
    this.banner = new VerifyBanner(session);
    this.notifier = new Notifier();
    this.view = null; // the open room's RoomView
    this.connectedOnce = false;
    this.stopped = false;
    this.unsubscribers = [];
    // The screens' context (room-forms.js, sessions.js).
    this.screens = {
      session,
      rooms: this.rooms,
      navigate,
      notice,
      setContent: (title, ...nodes) => this.setContent(title, ...nodes),
      unverified: () => this.unverifiedReason("create rooms and start conversations"),
      // Why a guest cannot `what` (guest.js), or null for an account.
      guest: (what) => guestReason(session, what),
    };
    this.currentRoute = null;
    this.buildShell();
  }

  // ---------- lifecycle ----------

  start() {
    const session = this.session;
    this.socket = new ChatSocket(session);
    const on = (event, handler) => this.unsubscribers.push(this.socket.on(event, handler));
    on(SocketEvent.STATE, (state) => this.showConnection(state));
    on(SocketEvent.CONNECT, (info) => this.onConnect(info));
    on(SocketEvent.DISCONNECT, (reason) => this.onDisconnect(reason));
    on(ServerEvent.MESSAGE_NEW, (message) => this.onMessage(message));
    on(ServerEvent.READ, (event) => this.onRead(event));
    on(ServerEvent.ROOM_MEMBER, (event) => this.onMember(event));
    on(ServerEvent.ROOM_UPDATED, (event) => this.onRoomUpdated(event));
    on(ServerEvent.ROOM_DELETED, (event) => this.onRoomDeleted(event));
    on(ServerEvent.TYPING, (event) => {
      if (event.userId !== session.user?.id) this.typists.update(event);
    });
    on(ServerEvent.PRESENCE, (event) => this.onPresence(event));
    on(ServerEvent.AUTH_TOKEN, (event) => session.applyPushedToken(event));
    for (const name of Object.values(ModerationEvent)) on(name, (event) => this.onModeration(name, event));
    for (const name of Object.values(MessageChangeEvent)) on(name, (event) => {
      if (this.view?.id === event.roomId) this.view.onMessageChange(name, event);
      if (name !== MessageChangeEvent.REACTION) this.onMessageEdited(name, event);
    });
    this.onVisibility = () => {
      if (document.visibilityState !== "visible") return;
      this.view?.markRead();
      // Back from the mailed link in another tab? Pick up the verified address.
      if (this.session.user && !this.session.user.emailVerified) this.banner.refresh();
    };
    document.addEventListener("visibilitychange", this.onVisibility);
    // The address verified (here, in another tab, or found by the banner): turn things on.
    this.onUser = () => {
      this.banner.render();
      this.view?.applyVerification();
      if (this.currentRoute && ["new-room", "direct"].includes(this.currentRoute.name)) this.route(this.currentRoute.name, this.currentRoute.args);
    };
    session.addEventListener("user", this.onUser);
    this.socket.connect();
    this.loadRooms();
  }

  stop() {
    this.stopped = true;
    this.banner.stopped = true;
    document.removeEventListener("visibilitychange", this.onVisibility);
    if (this.onUser) this.session.removeEventListener("user", this.onUser);
    for (const off of this.unsubscribers) off();
    this.socket?.disconnect();
    if (this.connection) {
      this.connection.textContent = "";
      delete this.connection.dataset.state;
      delete this.connection.dataset.recovered;
    }
    this.typists.stop();
    this.view?.close();
    clear(this.root);
    this.renderUnreadTotal();
  }

  /**
   * recovered: the server gave the previous Socket.IO session back (connection state
   * recovery, docs/PROTOCOL.md): every logged event missed while away (messages, reads,
   * membership, room changes, presence) follows the CONNECT, once and in order, so there is
   * nothing to fetch. Otherwise (a new session: outside the window, another node's pruned
   * log, a first connect) the REST catch-up below. `#connection[data-recovered]` says which
   * one happened (tests read it).
   */
  onConnect({ recovered = false } = {}) {
    if (this.connection) this.connection.dataset.recovered = String(recovered);
    if (this.connectedOnce && !recovered) {
      // Catch up on what happened while we were away.
      this.loadRooms();
      this.view?.loadNewer();
      this.view?.loadMembers(); // who is online now
    }
    this.connectedOnce = true;
  }

  onDisconnect(reason) {
    if (reason !== DisconnectReason.SERVER || this.stopped || this.session.loggingOut) return;
    // The server ended the socket: usually a revoked session. Ask the refresh endpoint.
    this.session
      .refresh({ force: true })
      .then(() => {
        if (!this.stopped) this.socket.connect();
      })
      .catch(() => {
        /* "ended" has been announced by the session */
      });
  }

  // ---------- shell ----------

  buildShell() {
    this.connection = $("#connection");
    const guest = isGuest(this.session.user);
    const sidebar = h(
      "nav",
      { class: "sidebar", "aria-label": "Rooms" },
      h("div", { class: "sidebar-head" }, (this.roomsHeading = h("h2", { id: "rooms-heading", tabindex: "-1" }, "Rooms"))),
      h(
        "ul",
        { class: "sidebar-actions" },
        // A guest gets only what it may do, and a note saying what needs an account.
        guest ? null : h("li", {}, h("a", { href: "#/new-room", id: "new-room-link" }, "New room")),
        h("li", {}, h("a", { href: "#/discover", id: "discover-link" }, "Discover")),
        guest ? null : h("li", {}, h("a", { href: "#/join", id: "join-link" }, "Join by code")),
        guest ? null : h("li", {}, h("a", { href: "#/direct", id: "direct-link" }, "Message someone")),
        h("li", {}, h("a", { href: "#/search", id: "search-link" }, "Search")),
      ),
      guest ? guestSidebarNote() : null,
      guest ? null : this.notificationOffer(), // for direct messages, which guests have none of
      this.rooms.list,
    );
    this.content = h("section", { class: "content", id: "content", "aria-live": "off" });
    this.shell = h("div", { class: "shell", "data-view": "list" }, sidebar, this.content);
    this.root.append(this.banner.el, this.shell);
    this.banner.render();
  }

  /** The unread total in the tab's title and as a badge on its icon (none when zero or stopped). */
  renderUnreadTotal() {
    const total = this.stopped ? 0 : this.rooms.unreadTotal;
    this.appSetTitle(total > 0 ? `(${formatBadge(total)}) ${this.baseTitle}` : this.baseTitle);
    const icon = document.querySelector("link[rel=icon]");
    if (!icon || icon.dataset.total === String(total)) return;
    icon.dataset.total = String(total);
    icon.href = total > 0 ? badgeIcon(formatBadge(total)) : "/favicon.svg";
  }

  /** "Turn on notifications", while the browser has not been asked; asks on click only. */
  notificationOffer() {
    if (this.notifier.permission !== "default") return null;
    const offer = h(
      "p",
      { class: "notify-offer", id: "notify-offer" },
      h(
        "button",
        {
          type: "button",
          class: "link-button",
          id: "notify-on",
          onclick: async () => {
            const answer = await this.notifier.ask();
            offer.textContent = answer === "granted" ? "Notifications are on for direct messages and mentions." : "Notifications stay off (the browser's setting).";
          },
        },
        "Turn on notifications",
      ),
      " for direct messages and mentions",
    );
    return offer;
  }

  showConnection(state) {
    if (!this.connection) return;
    this.connection.textContent = CONNECTION_TEXT[state] ?? "";
    this.connection.dataset.state = state;
    this.presence.setStale(state !== "connected");
  }

  /**
   * Why `what` is not possible yet ("Verify your email address to …"), or null when it is:
   * said up front instead of failing on submit.
   */
  unverifiedReason(what) {
    const user = this.session.user;
    if (!this.requireVerifiedEmail || !user || user.emailVerified) return null;
    return `Verify your email address to ${what}: open the link we mailed to ${user.email}, or send a new one from the banner above.`;
  }

  /** Routes inside the logged-in area. */
  route(name, args) {
    this.currentRoute = { name, args };
    const detail = name !== "rooms" || !!args[0];
    this.shell.dataset.view = detail ? "detail" : "list";
    if (detail) this.closeRoom();
    switch (name) {
      case "rooms":
        if (args[0]) return this.showRoom(Number(args[0]));
        return this.showHome();
      case "new-room":
        return showCreateRoom(this.screens);
      case "discover":
        return showDiscover(this.screens);
      case "join":
        return showJoinByCode(this.screens);
      case "direct":
        return showDirect(this.screens);
      case "sessions":
        return showSessions(this.screens);
      case "settings":
        return showSettings(this.screens);
      case "search":
        return showSearch(this.screens);
      case "room-created":
        return showRoomCreated(this.screens, Number(args[0]));
      case "admin":
        return showAdmin(this.screens);
      default:
        this.navigate("#/rooms");
    }
  }

  /** Replaces the content pane; focuses its heading for keyboard and screen-reader users. */
  setContent(title, ...children) {
    this.setTitle(title);
    clear(this.content);
    const heading = h("h2", { tabindex: "-1", id: "content-title" }, title);
    const back = h("a", { href: "#/rooms", class: "back-link" }, "‹ Rooms");
    // dom.js append: null children (a form's absent note) are skipped, not written as "null".
    append(this.content, [h("div", { class: "content-head" }, back, heading), ...children]);
    if (!this.content.contains(document.activeElement) || document.activeElement === document.body) heading.focus({ preventScroll: true });
    return heading;
  }

  showHome() {
    this.setTitle("Rooms");
    this.shell.dataset.view = "list";
    clear(this.content);
    if (isGuest(this.session.user)) {
      this.content.append(
        h("div", { class: "empty" }, h("h2", {}, "Welcome"), h("p", {}, GUEST_SCOPE), h("p", { class: "button-row" }, h("a", { href: "#/discover", class: "button" }, "Discover rooms"))),
      );
      this.#keepFocus();
      return;
    }
    this.content.append(
      h(
        "div",
        { class: "empty" },
        h("h2", {}, "Welcome"),
        h("p", {}, "Pick a room on the left, or start something new:"),
        h(
          "p",
          { class: "button-row" },
          h("a", { href: "#/new-room", class: "button" }, "Create a room"),
          h("a", { href: "#/discover", class: "button" }, "Discover rooms"),
          h("a", { href: "#/join", class: "button" }, "Join by code"),
        ),
      ),
    );
    this.#keepFocus();
  }

  /**
   * Focus left on the page's body (the room just left or deleted took the focused button or
   * composer with it): it goes to the room list's heading, where the next step starts.
   */
  #keepFocus() {
    const focused = document.activeElement;
    if (!focused || focused === document.body || !focused.isConnected) this.roomsHeading?.focus({ preventScroll: true });
  }

  // ---------- rooms ----------

  async loadRooms() {
    try {
      await this.rooms.load();
      if (this.stopped) return;
      const room = this.view && this.rooms.get(this.view.id);
      if (room) {
        this.view.room = room;
        this.view.markRead();
      }
    } catch (error) {
      if (error.status === 401) return;
      this.notice(`Could not load your rooms: ${messageFor(error)}`, "error");
    }
  }

  async showRoom(roomId) {
    if (!this.rooms.loaded) await this.loadRooms();
    if (this.stopped) return;
    let room = this.rooms.get(roomId);
    if (!room) {
      // Perhaps created or joined a moment ago elsewhere (another tab, its event still on the way).
      await this.loadRooms();
      if (this.stopped) return;
      room = this.rooms.get(roomId);
    }
    if (!room) {
      this.setContent("Room not found", h("p", {}, "You are not a member of this room, or it no longer exists."), h("p", {}, h("a", { href: "#/rooms" }, "Back to your rooms")));
      return;
    }
    const view = new RoomView(room, {
      session: this.session,
      socket: this.socket,
      rooms: this.rooms,
      presence: this.presence,
      typists: this.typists,
      postingBlocked: () => this.unverifiedReason("post"),
      directBlocked: () => guestReason(this.session, "start direct messages") || this.unverifiedReason("start conversations"),
      onLeave: (v) => this.leaveRoom(v),
      onDelete: (v) => this.deleteRoom(v),
      onDirect: (user) => this.startDirect(user),
      notifier: this.notifier,
    });
    this.view = view;
    this.rooms.setOpen(roomId);
    this.setTitle(view.name);
    await view.open(this.content);
  }

  /** Opens the direct message with `user` (made on first use: POST /direct). */
  async startDirect(user) {
    try {
      const room = await this.session.api("POST", "/direct", { userId: user.id });
      this.rooms.put(room);
      this.navigate(`#/rooms/${room.id}`);
    } catch (error) {
      this.notice(error.code === "email_unverified" ? "Verify your email address to start conversations." : messageFor(error), "error");
    }
  }

  closeRoom() {
    if (!this.view) return;
    this.view.close();
    this.view = null;
    this.rooms.setOpen(null);
  }

  async leaveRoom(view) {
    const name = view.name;
    // The last owner hands the room over first (the server answers 409 last_owner otherwise).
    if (view.room.role === "owner" && view.members.mustHandOver(this.session.user?.id)) {
      await confirmDialog({ title: `Hand “${name}” over first`, text: "You are its last owner. Make another member owner before you leave: open their ⋯ menu in the members list, or type /role @username owner.", confirmLabel: "OK", cancelLabel: "Close" });
      return;
    }
    // The server deletes a room its last member leaves (RoomService.leave): say so.
    const last = view.members.members.length > 0 ? view.members.members.every((m) => m.user.id === this.session.user?.id) : view.room.memberCount === 1;
    const ok = last
      ? await confirmDialog({ title: `Leave “${name}”?`, text: "You are its only member: the room and all its messages will be deleted. This cannot be undone.", confirmLabel: "Leave and delete", danger: true })
      : await confirmDialog({ title: `Leave “${name}”?`, text: `You can join it again later${view.room.kind === "private" ? " with its code" : ""}.`, confirmLabel: "Leave" });
    if (!ok) return;
    await this.#endMembership(view, "POST", `/rooms/${view.id}/leave`, `You left “${name}”.`);
  }

  async deleteRoom(view) {
    const name = view.name;
    const ok = await confirmDialog({ title: `Delete “${name}”?`, text: "The room and all its messages go, for everyone. This cannot be undone.", confirmLabel: "Delete room", danger: true });
    if (!ok) return;
    await this.#endMembership(view, "DELETE", `/rooms/${view.id}`, `“${name}” was deleted.`);
  }

  async #endMembership(view, method, path, done) {
    try {
      await this.session.api(method, path);
      this.closeRoom();
      this.rooms.remove(view.id);
      this.notice(done, "info");
      this.navigate("#/rooms");
    } catch (error) {
      this.notice(messageFor(error), "error");
    }
  }

  // ---------- realtime events ----------

  onMessage(message) {
    const room = this.rooms.get(message.roomId);
    if (!room) {
      this.loadRooms();
      return;
    }
    const open = this.view?.id === message.roomId ? this.view : null;
    if (!this.rooms.noteMessage(room, message) && !open) return;
    if (open) open.onMessage(message);
    if (message.authorId !== this.session.user?.id) {
      const mentioned = mentionsUser(message, this.session.user?.id);
      this.notifier.message(room, message, {
        openRoomId: this.view?.id ?? null,
        mentioned,
        // A mention elsewhere than a direct message says where: "Ann in #plans".
        title: `${message.author?.displayName || message.author?.username || roomName(room)}${room.kind !== "direct" ? ` in ${room.kind === "public" ? "#" : ""}${roomName(room)}` : ""}`,
        onClick: () => this.navigate(`#/rooms/${room.id}`),
      });
      if (open && document.visibilityState === "visible") open.markRead();
      else {
        room.unreadCount = (room.unreadCount || 0) + 1;
        if (mentionsUser(message, this.session.user?.id)) room.mentionCount = (room.mentionCount || 0) + 1;
      }
    }
    this.rooms.update(room.id);
  }

  /**
   * An edit or delete elsewhere in the room list: the room's preview follows it (the edited
   * body, or "message deleted"), and when the message is one I have not read its room's
   * counts are fetched again (GET /api/rooms): an edit may add or drop a mention of me and a
   * delete drops it (the server's message_mentions rows go with the old body).
   */
  onMessageEdited(name, event) {
    const room = this.rooms.get(event.roomId);
    if (!room) return;
    if (room.lastMessage?.id === event.id) {
      if (name === MessageChangeEvent.DELETED) room.lastMessage = { ...room.lastMessage, body: "", deletedAt: event.deletedAt };
      else room.lastMessage = { ...room.lastMessage, body: event.body, editedAt: event.editedAt };
      this.rooms.update(room.id);
    }
    const unread = event.id > (room.lastReadMessageId || 0) && (room.unreadCount || 0) > 0;
    if (unread && this.view?.id !== event.roomId) this.loadRooms();
  }

  onRead(event) {
    const room = this.rooms.get(event.roomId);
    if (!room) return;
    room.unreadCount = event.unreadCount;
    room.mentionCount = event.mentionCount || 0;
    room.lastReadMessageId = Math.max(room.lastReadMessageId || 0, event.lastReadMessageId);
    this.rooms.update(room.id);
  }

  onMember(event) {
    const open = this.view?.id === event.roomId ? this.view : null;
    if (event.user.id === this.session.user?.id) {
      // Joined elsewhere, or given the room (its owner left): the room's data and role anew.
      if (event.change === "joined") {
        this.loadRooms().then(() => open?.renderHeader());
        if (open?.members.has(event.user.id)) open.onMember(event); // my role changed
      } else {
        this.rooms.remove(event.roomId);
        // The account is being deleted (here or in another tab): it leaves every room on the
        // way, and the session's end says so; no notice about this one room.
        if (this.session.accountDeleting) return;
        // Kicked or banned: the `member:kicked` / `member:banned` just before said by whom and why.
        const removal = this.removalNotice?.roomId === event.roomId ? this.removalNotice.text : null;
        this.removalNotice = null;
        if (open || removal) this.notice(removal || "You are no longer a member of that room.", "info");
        if (open) this.navigate("#/rooms");
      }
      return;
    }
    const room = this.rooms.get(event.roomId);
    // The other person of a direct message left it: only a deleted account does (DELETE /me
    // leaves every room). The conversation stays, with "Deleted user" and no composer.
    if (room?.kind === "direct" && event.change !== "joined" && room.peer?.id === event.user.id) {
      room.peer = null;
      this.rooms.update(room.id);
      if (open) {
        open.onPeerGone();
        this.setTitle(open.name);
      }
    }
    const roleChange = event.change === "joined" && open?.members.has(event.user.id);
    if (room && !roleChange) {
      if (event.change === "joined") room.memberCount = (room.memberCount || 0) + 1;
      else room.memberCount = Math.max(0, (room.memberCount || 1) - 1);
    }
    open?.onMember(event);
  }

  /** A `member:*` moderation delta (events.js ModerationEvent): my role, why I was removed, the open room's timeline. */
  onModeration(eventName, event) {
    const open = this.view?.id === event.roomId ? this.view : null;
    const room = this.rooms.get(event.roomId);
    if (event.user.id === this.session.user?.id && room) {
      const by = event.by.displayName || event.by.username;
      const why = event.reason ? `: ${event.reason}` : "";
      if (eventName === ModerationEvent.ROLE) {
        room.role = event.role;
        // A private room's join code is given to the roles that may invite (owner, admin:
        // GET /rooms sends it to them only): it goes at once on a step down, and comes with
        // the room's data, fetched again, on a step up.
        if (room.kind === "private") {
          if (!mayInvite(event.role)) room.joinCode = null;
          else if (!room.joinCode) this.loadRooms().then(() => { if (this.view?.id === event.roomId) this.view.renderHeader(); });
        }
        this.rooms.update(event.roomId);
      } else if (eventName === ModerationEvent.KICKED || eventName === ModerationEvent.BANNED) {
        const verb = eventName === ModerationEvent.BANNED ? "banned you from" : "removed you from";
        this.removalNotice = { roomId: event.roomId, text: `${by} ${verb} “${roomName(room)}”${why}.` };
      }
    }
    open?.onModeration(eventName, event);
  }

  onRoomUpdated(event) {
    const room = this.rooms.get(event.roomId);
    if (!room) return;
    // The event carries the room's current name and topic: what changed is what differs.
    const changes = {};
    if (event.name !== undefined && event.name !== null && event.name !== room.name) changes.name = room.name = event.name;
    if (event.topic !== undefined && (event.topic || null) !== (room.topic || null)) changes.topic = room.topic = event.topic;
    if (typeof event.allowGuests === "boolean" && event.allowGuests !== !!room.allowGuests) changes.allowGuests = room.allowGuests = event.allowGuests;
    this.rooms.update(room.id);
    if (this.view?.id === room.id) {
      this.view.onUpdated(changes);
      if ("name" in changes) this.setTitle(this.view.name);
    }
  }

  onRoomDeleted(event) {
    const room = this.rooms.get(event.roomId);
    this.rooms.remove(event.roomId);
    if (this.view?.id === event.roomId) {
      this.notice(`The room “${room ? roomName(room) : ""}” was deleted.`, "info");
      this.navigate("#/rooms");
    }
  }

  onPresence(event) {
    this.presence.set(event.userId, event.online);
    this.view?.onPresence(event.userId, event.online);
  }
}

/** Whether `role` may invite to a private room and so sees its join code (the server's RoomRules.mayManageRoom). */
function mayInvite(role) {
  return role === "owner" || role === "admin";
}

/** The app's icon with a red badge carrying `text` (an SVG data: URL; the CSP allows data: images). */
function badgeIcon(text) {
  const size = text.length > 2 ? 13 : 16;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect x="1" y="1" width="30" height="30" rx="7" fill="#2f5bd3"/><circle cx="22" cy="10" r="10" fill="#d92d20"/><text x="22" y="15" font-family="sans-serif" font-size="${size}" font-weight="700" fill="#fff" text-anchor="middle">${text}</text></svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}
