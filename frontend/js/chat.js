// The logged-in part of the app: the room list with unread badges, the chat view, room
// creation and joining, direct messages, sessions. Kept current by the realtime events
// of docs/PROTOCOL.md over our own Socket.IO client.

import { SocketClient } from "./socketio.js";
import { $, clear, clearErrors, field, formatBadge, formatTime, h, messageFor, showError } from "./dom.js";

const PAGE_SIZE = 50;
const TYPING_SEND_EVERY = 2000;
const TYPING_IDLE = 3000;
const TYPING_SHOW_FOR = 6000;

export class ChatApp {
  constructor(session, { root, navigate, setTitle, notice }) {
    this.session = session;
    this.root = root;
    this.navigate = navigate;
    this.setTitle = setTitle;
    this.notice = notice;
    this.rooms = new Map(); // id → RoomView
    this.roomsLoaded = false;
    this.presence = new Map(); // userId → online
    this.typing = new Map(); // roomId → Map(userId → {name, timer})
    this.open = null; // the open room's state
    this.connectedOnce = false;
    this.stopped = false;
    this.unsubscribers = [];
    this.currentRoute = null;
    this.buildShell();
  }

  // ---------- lifecycle ----------

  start() {
    const session = this.session;
    this.socket = new SocketClient({
      auth: async () => ({ token: await session.freshToken() }),
      onConnectError: async (error) => {
        if (error.code === "token_expired") {
          try {
            await session.refresh();
            return "retry";
          } catch {
            return "stop";
          }
        }
        if (error.code === "session_revoked" || error.code === "invalid_token") {
          session.end("revoked");
          return "stop";
        }
        if (error.code === "no_credentials") return "stop";
        return "retry";
      },
    });
    const on = (event, handler) => this.unsubscribers.push(this.socket.on(event, handler));
    on("state", (state) => this.showConnection(state));
    on("connect", () => this.onConnect());
    on("disconnect", (reason) => this.onDisconnect(reason));
    on("message:new", (message) => this.onMessage(message));
    on("read", (event) => this.onRead(event));
    on("room:member", (event) => this.onMember(event));
    on("room:updated", (event) => this.onRoomUpdated(event));
    on("room:deleted", (event) => this.onRoomDeleted(event));
    on("typing", (event) => this.onTyping(event));
    on("presence", (event) => this.onPresence(event));
    on("auth:token", (event) => session.applyPushedToken(event));
    this.onVisibility = () => {
      if (document.visibilityState !== "visible") return;
      this.markOpenRoomRead();
      // Back from the mailed link in another tab? Pick up the verified address.
      if (this.session.user && !this.session.user.emailVerified) this.refreshMe();
    };
    document.addEventListener("visibilitychange", this.onVisibility);
    this.socket.connect();
    this.loadRooms();
  }

  stop() {
    this.stopped = true;
    document.removeEventListener("visibilitychange", this.onVisibility);
    for (const off of this.unsubscribers) off();
    this.socket?.disconnect();
    if (this.connection) {
      this.connection.textContent = "";
      delete this.connection.dataset.state;
    }
    for (const typists of this.typing.values()) for (const t of typists.values()) clearTimeout(t.timer);
    clearTimeout(this.open?.typingIdle);
    clear(this.root);
  }

  onConnect() {
    if (this.connectedOnce) {
      // Catch up on what happened while we were away.
      this.loadRooms();
      if (this.open) this.loadNewer(this.open);
    }
    this.connectedOnce = true;
  }

  onDisconnect(reason) {
    if (reason !== "io server disconnect" || this.stopped || this.session.loggingOut) return;
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

  /** Emits a chat event with an ack; refreshes the token once if the socket's has expired. */
  async request(event, payload, { timeout = 10000 } = {}) {
    let answer = await this.socket.emitWithAck(event, payload, { timeout });
    if (answer && answer.ok === false && answer.error?.code === "token_expired") {
      const token = await this.session.refresh();
      await this.socket.emitWithAck("auth:refresh", { token }, { timeout });
      answer = await this.socket.emitWithAck(event, payload, { timeout });
    }
    if (!answer || answer.ok !== true) {
      const error = new Error(answer?.error?.message || "The server refused this.");
      error.code = answer?.error?.code || "unknown";
      error.fields = answer?.error?.fields;
      throw error;
    }
    return answer;
  }

  // ---------- shell ----------

  buildShell() {
    this.connection = $("#connection");
    this.banner = h("div", { class: "banner", id: "verify-banner", hidden: true });
    this.roomList = h("ul", { class: "room-list", id: "room-list", "aria-label": "Your rooms" });
    this.sidebar = h(
      "nav",
      { class: "sidebar", "aria-label": "Rooms" },
      h("div", { class: "sidebar-head" }, h("h2", {}, "Rooms")),
      h(
        "ul",
        { class: "sidebar-actions" },
        h("li", {}, h("a", { href: "#/new-room", id: "new-room-link" }, "New room")),
        h("li", {}, h("a", { href: "#/discover", id: "discover-link" }, "Discover")),
        h("li", {}, h("a", { href: "#/join", id: "join-link" }, "Join by code")),
        h("li", {}, h("a", { href: "#/direct", id: "direct-link" }, "Message someone")),
      ),
      this.roomList,
    );
    this.content = h("section", { class: "content", id: "content", "aria-live": "off" });
    this.shell = h("div", { class: "shell", "data-view": "list" }, this.sidebar, this.content);
    this.root.append(this.banner, this.shell);
    this.renderBanner();
  }

  renderBanner() {
    const user = this.session.user;
    clear(this.banner);
    if (!user || user.emailVerified) {
      this.banner.hidden = true;
      return;
    }
    const status = h("span", { role: "status", class: "banner-status" });
    const button = h(
      "button",
      {
        type: "button",
        class: "link-button",
        onclick: async () => {
          button.disabled = true;
          try {
            const answer = await this.session.api("POST", "/auth/resend-verification");
            status.textContent = answer?.message || "A new link is on its way.";
          } catch (error) {
            if (error.code === "email_already_verified") {
              this.session.user.emailVerified = true;
              this.renderBanner();
              return;
            }
            status.textContent = messageFor(error);
          } finally {
            button.disabled = false;
          }
        },
      },
      "Send a new link",
    );
    this.banner.append(h("span", {}, "Verify your email address (", user.email, ") to create rooms and post. "), button, " ", status);
    this.banner.hidden = false;
  }

  async refreshMe() {
    try {
      const me = await this.session.api("GET", "/me");
      if (this.stopped || !this.session.user) return;
      Object.assign(this.session.user, me);
      this.renderBanner();
    } catch {
      // Not important enough to report.
    }
  }

  showConnection(state) {
    if (!this.connection) return;
    const text = { connected: "Online", connecting: "Connecting…", waiting: "Reconnecting…", closed: "Offline", idle: "" }[state] ?? "";
    this.connection.textContent = text;
    this.connection.dataset.state = state;
  }

  /** Routes inside the logged-in area. */
  route(name, args) {
    this.currentRoute = name;
    const detail = name !== "rooms" || !!args[0];
    this.shell.dataset.view = detail ? "detail" : "list";
    if (name !== "rooms" || args[0]) this.closeRoom();
    switch (name) {
      case "rooms":
        if (args[0]) return this.showRoom(Number(args[0]));
        return this.showHome();
      case "new-room":
        return this.showCreateRoom();
      case "discover":
        return this.showDiscover();
      case "join":
        return this.showJoinByCode();
      case "direct":
        return this.showDirect();
      case "sessions":
        return this.showSessions();
      case "room-created":
        return this.showRoomCreated(Number(args[0]));
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
    this.content.append(h("div", { class: "content-head" }, back, heading), ...children);
    if (!this.content.contains(document.activeElement) || document.activeElement === document.body) heading.focus({ preventScroll: true });
    return heading;
  }

  showHome() {
    this.setTitle("Rooms");
    this.shell.dataset.view = "list";
    clear(this.content);
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
  }

  // ---------- room list ----------

  async loadRooms() {
    try {
      const answer = await this.session.api("GET", "/rooms");
      if (this.stopped) return;
      this.rooms = new Map(answer.rooms.map((room) => [room.id, room]));
      this.roomsLoaded = true;
      if (this.open) {
        const room = this.rooms.get(this.open.id);
        if (room) this.open.room = room;
      }
      this.renderRoomList();
      if (this.open && this.rooms.has(this.open.id)) this.markOpenRoomRead();
    } catch (error) {
      if (error.status === 401) return;
      this.notice(`Could not load your rooms: ${messageFor(error)}`, "error");
    }
  }

  roomName(room) {
    if (room.kind === "direct") return room.peer ? room.peer.displayName || room.peer.username : "Direct message";
    return room.name;
  }

  sortedRooms() {
    const last = (room) => room.lastMessage?.id ?? 0;
    return [...this.rooms.values()].sort((a, b) => last(b) - last(a) || a.id - b.id);
  }

  renderRoomList() {
    clear(this.roomList);
    if (this.rooms.size === 0) {
      this.roomList.append(h("li", { class: "muted" }, "No rooms yet."));
      return;
    }
    for (const room of this.sortedRooms()) this.roomList.append(this.roomItem(room));
  }

  roomItem(room) {
    const unread = room.unreadCount || 0;
    const isOpen = this.open?.id === room.id;
    const name = this.roomName(room);
    const dot = room.kind === "direct" && room.peer ? this.presenceDot(room.peer.id) : null;
    const kindLabel = { public: "#", private: "", direct: "@" }[room.kind] || "";
    const preview = room.lastMessage ? room.lastMessage.body.slice(0, 80) : room.topic || "";
    const badge = unread > 0 ? h("span", { class: "badge", "aria-hidden": "true" }, formatBadge(unread)) : null;
    const label = unread > 0 ? `${name}, ${formatBadge(unread)} unread` : name;
    return h(
      "li",
      { "data-room-id": room.id, class: isOpen ? "active" : null },
      h(
        "a",
        { href: `#/rooms/${room.id}`, "aria-label": label, "aria-current": isOpen ? "page" : null, "data-unread": unread },
        h("span", { class: `kind kind-${room.kind}`, "aria-hidden": "true" }, kindLabel),
        h("span", { class: "room-text" }, h("span", { class: "room-name" }, name, dot), h("span", { class: "preview" }, preview)),
        badge,
      ),
    );
  }

  updateRoomItem(roomId) {
    const room = this.rooms.get(roomId);
    const old = this.roomList.querySelector(`li[data-room-id="${roomId}"]`);
    if (!room) {
      old?.remove();
      if (this.rooms.size === 0) this.renderRoomList();
      return;
    }
    this.renderRoomList();
  }

  presenceDot(userId) {
    const online = this.presence.get(userId) === true;
    return h("span", { class: `dot ${online ? "online" : "offline"}`, "data-user-id": userId, title: online ? "online" : "offline" }, h("span", { class: "visually-hidden" }, online ? " (online)" : " (offline)"));
  }

  // ---------- realtime events ----------

  onMessage(message) {
    const room = this.rooms.get(message.roomId);
    if (!room) {
      this.loadRooms();
      return;
    }
    if (room.lastMessage && room.lastMessage.id >= message.id && this.open?.id !== message.roomId) return;
    const mine = message.authorId === this.session.user?.id;
    if (!room.lastMessage || room.lastMessage.id < message.id) {
      room.lastMessage = { id: message.id, authorId: message.authorId, body: message.body, createdAt: message.createdAt };
    }
    const open = this.open && this.open.id === message.roomId ? this.open : null;
    if (open) {
      this.addMessages(open, [message], "append");
      this.clearTyping(message.roomId, message.authorId);
    }
    if (!mine) {
      if (open && document.visibilityState === "visible") this.markOpenRoomRead();
      else room.unreadCount = (room.unreadCount || 0) + 1;
    }
    this.updateRoomItem(room.id);
  }

  onRead(event) {
    const room = this.rooms.get(event.roomId);
    if (!room) return;
    room.unreadCount = event.unreadCount;
    room.lastReadMessageId = Math.max(room.lastReadMessageId || 0, event.lastReadMessageId);
    this.updateRoomItem(room.id);
  }

  onMember(event) {
    const me = this.session.user?.id;
    if (event.user.id === me) {
      if (event.change === "joined") this.loadRooms();
      else {
        this.rooms.delete(event.roomId);
        this.updateRoomItem(event.roomId);
        if (this.open?.id === event.roomId) {
          this.notice("You are no longer a member of that room.", "info");
          this.navigate("#/rooms");
        }
      }
      return;
    }
    const room = this.rooms.get(event.roomId);
    if (room) {
      if (event.change === "joined") room.memberCount = (room.memberCount || 0) + 1;
      else room.memberCount = Math.max(0, (room.memberCount || 1) - 1);
    }
    if (this.open?.id === event.roomId) {
      const members = this.open.members;
      const index = members.findIndex((m) => m.user.id === event.user.id);
      if (event.change === "joined") {
        if (index >= 0) members[index].role = event.role || members[index].role;
        else members.push({ user: event.user, role: event.role || "member", online: this.presence.get(event.user.id) === true });
        this.announce(`${event.user.displayName || event.user.username} joined.`);
        // Presence of the newcomer: the server knows whether they are connected.
        this.loadMembers(this.open);
      } else if (index >= 0) {
        members.splice(index, 1);
        this.announce(`${event.user.displayName || event.user.username} left.`);
      }
      this.renderMembers(this.open);
    }
  }

  onRoomUpdated(event) {
    const room = this.rooms.get(event.roomId);
    if (!room) return;
    if (event.name !== undefined && event.name !== null) room.name = event.name;
    if (event.topic !== undefined) room.topic = event.topic;
    this.updateRoomItem(room.id);
    if (this.open?.id === room.id) this.renderRoomHeader(this.open);
  }

  onRoomDeleted(event) {
    const room = this.rooms.get(event.roomId);
    this.rooms.delete(event.roomId);
    this.updateRoomItem(event.roomId);
    if (this.open?.id === event.roomId) {
      this.notice(`The room “${room ? this.roomName(room) : ""}” was deleted.`, "info");
      this.navigate("#/rooms");
    }
  }

  onTyping(event) {
    if (event.userId === this.session.user?.id) return;
    if (!this.typing.has(event.roomId)) this.typing.set(event.roomId, new Map());
    const typists = this.typing.get(event.roomId);
    const existing = typists.get(event.userId);
    if (existing) clearTimeout(existing.timer);
    if (event.typing) {
      const timer = setTimeout(() => this.clearTyping(event.roomId, event.userId), TYPING_SHOW_FOR);
      typists.set(event.userId, { timer });
    } else {
      typists.delete(event.userId);
    }
    if (this.open?.id === event.roomId) this.renderTyping(this.open);
  }

  clearTyping(roomId, userId) {
    const typists = this.typing.get(roomId);
    const existing = typists?.get(userId);
    if (!existing) return;
    clearTimeout(existing.timer);
    typists.delete(userId);
    if (this.open?.id === roomId) this.renderTyping(this.open);
  }

  onPresence(event) {
    this.presence.set(event.userId, event.online);
    for (const dot of this.root.querySelectorAll(`.dot[data-user-id="${event.userId}"]`)) {
      dot.className = `dot ${event.online ? "online" : "offline"}`;
      dot.title = event.online ? "online" : "offline";
      dot.firstChild.textContent = event.online ? " (online)" : " (offline)";
    }
    if (this.open) {
      const member = this.open.members.find((m) => m.user.id === event.userId);
      if (member) member.online = event.online;
    }
  }

  announce(text) {
    if (this.open?.liveStatus) this.open.liveStatus.textContent = text;
  }

  // ---------- chat view ----------

  closeRoom() {
    if (!this.open) return;
    clearTimeout(this.open.typingIdle);
    if (this.open.typingSent) this.sendTyping(this.open, false);
    const id = this.open.id;
    this.open = null;
    if (this.rooms.has(id)) this.updateRoomItem(id);
  }

  async showRoom(roomId) {
    if (!this.roomsLoaded) await this.loadRooms();
    if (this.stopped) return;
    let room = this.rooms.get(roomId);
    if (!room) {
      this.setContent("Room not found", h("p", {}, "You are not a member of this room, or it no longer exists."), h("p", {}, h("a", { href: "#/rooms" }, "Back to your rooms")));
      return;
    }
    const state = {
      id: roomId,
      room,
      messages: [], // sorted by id; pending ones kept separately
      ids: new Set(),
      pending: new Map(), // clientMsgId → {body, el, status}
      members: [],
      hasMore: true,
      loadingOlder: false,
      typingSent: false,
      typingLastSent: 0,
      typingIdle: null,
    };
    this.open = state;
    this.updateRoomItem(roomId);
    this.renderRoomView(state);
    await Promise.all([this.loadInitial(state), this.loadMembers(state)]);
  }

  renderRoomView(state) {
    const room = state.room;
    const name = this.roomName(room);
    this.setTitle(name);
    clear(this.content);
    state.header = h("header", { class: "room-header" });
    state.list = h("ol", { class: "messages", id: "messages", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": `Messages in ${name}`, tabindex: "0" });
    state.older = h("button", { type: "button", class: "link-button load-older", hidden: true, onclick: () => this.loadOlder(state) }, "Load earlier messages");
    state.scroller = h("div", { class: "message-scroller", id: "message-scroller" }, state.older, state.list);
    state.scroller.addEventListener("scroll", () => {
      if (state.scroller.scrollTop < 120) this.loadOlder(state);
    });
    state.typingLine = h("p", { class: "typing", id: "typing", "aria-live": "polite" });
    state.liveStatus = h("p", { class: "visually-hidden", role: "status" });
    state.membersList = h("ul", { class: "members", id: "members" });
    state.membersPanel = h("aside", { class: "members-panel", id: "members-panel", "aria-label": "Members" }, h("h3", {}, "Members"), state.membersList);
    const input = h("textarea", { id: "composer-input", name: "body", rows: 1, maxlength: 4000, required: true, autocomplete: "off", placeholder: `Message ${name}` });
    const sendError = h("p", { class: "form-error", role: "alert", hidden: true });
    state.input = input;
    state.composer = h(
      "form",
      { class: "composer", id: "composer", novalidate: true },
      sendError,
      h("label", { for: "composer-input", class: "visually-hidden" }, `Message ${name}`),
      input,
      h("button", { type: "submit", class: "primary", id: "send-button" }, "Send"),
    );
    state.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = input.value.trim();
      if (!body) return;
      input.value = "";
      this.sendMessage(state, body);
      input.focus();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        state.composer.requestSubmit();
      }
    });
    input.addEventListener("input", () => this.onComposerInput(state));
    const chatColumn = h("div", { class: "chat-column" }, state.scroller, state.typingLine, state.composer);
    this.content.append(state.header, h("div", { class: "room-body" }, chatColumn, state.membersPanel), state.liveStatus);
    this.renderRoomHeader(state);
    this.renderTyping(state);
    if (!this.content.contains(document.activeElement)) input.focus({ preventScroll: true });
  }

  renderRoomHeader(state) {
    const room = state.room;
    const header = state.header;
    clear(header);
    const name = this.roomName(room);
    const isOwner = room.role === "owner";
    const kindText = { public: "Public room", private: "Private room", direct: "Direct message" }[room.kind];
    const info = h(
      "div",
      { class: "room-info" },
      h("a", { href: "#/rooms", class: "back-link" }, "‹ Rooms"),
      h("h2", { id: "room-title", tabindex: "-1" }, name, room.kind === "direct" && room.peer ? this.presenceDot(room.peer.id) : null),
      h("p", { class: "room-meta" }, kindText, room.topic ? ` · ${room.topic}` : "", room.joinCode ? [" · Code ", h("code", { id: "room-join-code" }, room.joinCode)] : null),
    );
    const membersToggle = h(
      "button",
      {
        type: "button",
        class: "secondary members-toggle",
        "aria-expanded": "false",
        "aria-controls": "members-panel",
        onclick: () => {
          const expanded = membersToggle.getAttribute("aria-expanded") === "true";
          membersToggle.setAttribute("aria-expanded", String(!expanded));
          state.membersPanel.classList.toggle("shown", !expanded);
        },
      },
      "Members",
    );
    const actions = h("div", { class: "room-actions" }, membersToggle);
    if (room.kind !== "direct") actions.append(h("button", { type: "button", class: "secondary", id: "leave-room", onclick: () => this.leaveRoom(state) }, "Leave"));
    if (isOwner && room.kind !== "direct") actions.append(h("button", { type: "button", class: "danger", id: "delete-room", onclick: () => this.deleteRoom(state) }, "Delete"));
    header.append(info, actions);
  }

  async loadInitial(state) {
    try {
      const page = await this.session.api("GET", `/rooms/${state.id}/messages?limit=${PAGE_SIZE}`);
      if (this.open !== state) return;
      state.hasMore = page.hasMore;
      this.addMessages(state, page.messages, "initial");
      this.markOpenRoomRead();
    } catch (error) {
      if (this.open !== state) return;
      state.list.append(h("li", { class: "system error" }, `Could not load messages: ${messageFor(error)}`));
    }
  }

  async loadOlder(state) {
    if (!state.hasMore || state.loadingOlder || this.open !== state || state.messages.length === 0) return;
    state.loadingOlder = true;
    state.older.textContent = "Loading…";
    try {
      const before = state.messages[0].id;
      const page = await this.session.api("GET", `/rooms/${state.id}/messages?before=${before}&limit=${PAGE_SIZE}`);
      if (this.open !== state) return;
      state.hasMore = page.hasMore;
      this.addMessages(state, page.messages, "prepend");
    } catch (error) {
      this.announce(`Could not load earlier messages: ${messageFor(error)}`);
    } finally {
      state.loadingOlder = false;
      state.older.textContent = "Load earlier messages";
      state.older.hidden = !state.hasMore;
    }
  }

  /** After a reconnect: the messages we missed. */
  async loadNewer(state) {
    const last = state.messages[state.messages.length - 1];
    if (!last) return this.loadInitial(state);
    try {
      let after = last.id;
      for (let i = 0; i < 20; i++) {
        const page = await this.session.api("GET", `/rooms/${state.id}/messages?after=${after}&limit=100`);
        if (this.open !== state) return;
        this.addMessages(state, page.messages, "append");
        if (!page.hasMore || page.messages.length === 0) break;
        after = page.messages[page.messages.length - 1].id;
      }
      this.markOpenRoomRead();
    } catch {
      // The next reconnect tries again.
    }
  }

  addMessages(state, messages, mode) {
    const fresh = messages.filter((m) => !state.ids.has(m.id));
    if (fresh.length === 0 && mode !== "initial") return;
    const scroller = state.scroller;
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    const oldHeight = scroller.scrollHeight;
    for (const message of fresh) {
      state.ids.add(message.id);
      const pending = message.clientMsgId ? state.pending.get(message.clientMsgId) : null;
      if (pending && message.authorId === this.session.user?.id) {
        state.pending.delete(message.clientMsgId);
        pending.el.remove();
      }
    }
    state.messages = [...state.messages, ...fresh].sort((a, b) => a.id - b.id);
    // Re-render the settled messages (keeps order right when events and pages interleave).
    const pendingEls = [...state.pending.values()].map((p) => p.el);
    clear(state.list);
    if (state.messages.length === 0 && pendingEls.length === 0) {
      state.list.append(h("li", { class: "system" }, "No messages yet. Say hello!"));
    }
    for (const message of state.messages) state.list.append(this.messageItem(message));
    for (const el of pendingEls) state.list.append(el);
    state.older.hidden = !state.hasMore;
    if (mode === "prepend") scroller.scrollTop += scroller.scrollHeight - oldHeight;
    else if (mode === "initial" || nearBottom || fresh.some((m) => m.authorId === this.session.user?.id)) scroller.scrollTop = scroller.scrollHeight;
    if (mode === "initial" && state.hasMore && scroller.scrollHeight <= scroller.clientHeight) this.loadOlder(state);
  }

  messageItem(message) {
    const mine = message.authorId === this.session.user?.id;
    const author = message.author ? message.author.displayName || message.author.username : `User ${message.authorId}`;
    return h(
      "li",
      { class: ["message", mine && "mine"], "data-message-id": message.id },
      h("div", { class: "meta" }, h("span", { class: "author" }, mine ? "You" : author), " ", h("time", { datetime: message.createdAt }, formatTime(message.createdAt))),
      h("p", { class: "body" }, message.body),
    );
  }

  sendMessage(state, body, clientMsgId = crypto.randomUUID()) {
    let pending = state.pending.get(clientMsgId);
    if (!pending) {
      const el = h("li", { class: "message mine pending", "data-client-msg-id": clientMsgId });
      pending = { body, el };
      state.pending.set(clientMsgId, pending);
      const empty = state.list.querySelector("li.system");
      if (empty && state.messages.length === 0) empty.remove();
      state.list.append(el);
    }
    this.renderPending(state, clientMsgId, "sending");
    state.scroller.scrollTop = state.scroller.scrollHeight;
    clearTimeout(state.typingIdle);
    if (state.typingSent) this.sendTyping(state, false);
    // A generous ack timeout: a send made while reconnecting waits in the buffer.
    this.request("message:send", { roomId: state.id, body, clientMsgId }, { timeout: 20000 })
      .then((answer) => {
        if (this.open === state) this.addMessages(state, [answer.message], "append");
        const room = this.rooms.get(state.id);
        if (room && (!room.lastMessage || room.lastMessage.id < answer.message.id)) {
          room.lastMessage = { id: answer.message.id, authorId: answer.message.authorId, body: answer.message.body, createdAt: answer.message.createdAt };
          this.updateRoomItem(state.id);
        }
      })
      .catch((error) => {
        if (!state.pending.has(clientMsgId)) return;
        this.renderPending(state, clientMsgId, "failed", error);
      });
  }

  renderPending(state, clientMsgId, status, error) {
    const pending = state.pending.get(clientMsgId);
    if (!pending) return;
    const el = pending.el;
    clear(el);
    el.classList.toggle("failed", status === "failed");
    el.classList.toggle("pending", status === "sending");
    el.dataset.status = status;
    const meta = h("div", { class: "meta" }, h("span", { class: "author" }, "You"), " ", h("span", { class: "state" }, status === "sending" ? "Sending…" : "Not sent"));
    el.append(meta, h("p", { class: "body" }, pending.body));
    if (status === "failed") {
      const reason = messageFor(error);
      el.append(
        h(
          "p",
          { class: "send-error", role: "alert" },
          `${reason} `,
          h("button", { type: "button", class: "link-button retry", onclick: () => this.sendMessage(state, pending.body, clientMsgId) }, "Retry"),
          " ",
          h(
            "button",
            {
              type: "button",
              class: "link-button discard",
              onclick: () => {
                state.pending.delete(clientMsgId);
                el.remove();
              },
            },
            "Discard",
          ),
        ),
      );
    }
  }

  onComposerInput(state) {
    const now = Date.now();
    if (state.input.value.trim() === "") {
      clearTimeout(state.typingIdle);
      if (state.typingSent) this.sendTyping(state, false);
      return;
    }
    if (!state.typingSent || now - state.typingLastSent > TYPING_SEND_EVERY) this.sendTyping(state, true);
    clearTimeout(state.typingIdle);
    state.typingIdle = setTimeout(() => this.sendTyping(state, false), TYPING_IDLE);
  }

  sendTyping(state, typing) {
    state.typingSent = typing;
    state.typingLastSent = Date.now();
    // Typing notices are not worth buffering: send only while connected.
    if (this.socket.connected) this.socket.emit("typing", { roomId: state.id, typing }, () => {});
  }

  renderTyping(state) {
    const typists = [...(this.typing.get(state.id)?.keys() || [])];
    const names = typists.map((id) => {
      const member = state.members.find((m) => m.user.id === id);
      return member ? member.user.displayName || member.user.username : "Someone";
    });
    state.typingLine.textContent =
      names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : "Several people are typing…";
  }

  async loadMembers(state) {
    try {
      const answer = await this.session.api("GET", `/rooms/${state.id}/members`);
      if (this.open !== state) return;
      state.members = answer.members;
      for (const member of answer.members) this.presence.set(member.user.id, member.online);
      this.renderMembers(state);
      if (state.room.kind === "direct") this.renderRoomHeader(state);
    } catch (error) {
      if (this.open !== state) return;
      clear(state.membersList).append(h("li", { class: "error" }, `Could not load members: ${messageFor(error)}`));
    }
  }

  renderMembers(state) {
    clear(state.membersList);
    const roleOrder = { owner: 0, admin: 1, member: 2 };
    const members = [...state.members].sort((a, b) => (roleOrder[a.role] ?? 3) - (roleOrder[b.role] ?? 3) || (a.user.displayName || "").localeCompare(b.user.displayName || ""));
    for (const member of members) {
      state.membersList.append(
        h(
          "li",
          { "data-user-id": member.user.id, "data-username": member.user.username },
          this.presenceDot(member.user.id),
          h("span", { class: "member-name" }, member.user.displayName || member.user.username),
          h("span", { class: "member-username" }, ` @${member.user.username}`),
          member.role !== "member" ? h("span", { class: "role" }, member.role) : null,
        ),
      );
    }
    this.renderTyping(state);
  }

  markOpenRoomRead() {
    const state = this.open;
    if (!state || document.visibilityState !== "visible") return;
    const last = state.messages[state.messages.length - 1];
    const room = this.rooms.get(state.id);
    if (!last || !room) return;
    if ((room.lastReadMessageId || 0) >= last.id && !room.unreadCount) return;
    room.unreadCount = 0;
    room.lastReadMessageId = Math.max(room.lastReadMessageId || 0, last.id);
    this.updateRoomItem(state.id);
    this.request("room:read", { roomId: state.id, messageId: last.id }).catch(() => {
      // Over REST if the socket is not there (reconnecting).
      this.session.api("POST", `/rooms/${state.id}/read`, { messageId: last.id }).catch(() => {});
    });
  }

  async leaveRoom(state) {
    const name = this.roomName(state.room);
    if (!confirm(`Leave “${name}”?`)) return;
    try {
      await this.session.api("POST", `/rooms/${state.id}/leave`);
      this.closeRoom();
      this.rooms.delete(state.id);
      this.updateRoomItem(state.id);
      this.notice(`You left “${name}”.`, "info");
      this.navigate("#/rooms");
    } catch (error) {
      this.notice(messageFor(error), "error");
    }
  }

  async deleteRoom(state) {
    const name = this.roomName(state.room);
    if (!confirm(`Delete “${name}” and all its messages for everyone? This cannot be undone.`)) return;
    try {
      await this.session.api("DELETE", `/rooms/${state.id}`);
      this.closeRoom();
      this.rooms.delete(state.id);
      this.updateRoomItem(state.id);
      this.notice(`“${name}” was deleted.`, "info");
      this.navigate("#/rooms");
    } catch (error) {
      this.notice(messageFor(error), "error");
    }
  }

  // ---------- forms ----------

  form(id, fields, submitLabel, onSubmit) {
    const general = h("p", { class: "form-error", role: "alert", tabindex: "-1", hidden: true });
    const button = h("button", { type: "submit", class: "primary" }, submitLabel);
    const el = h("form", { id, novalidate: true }, general, ...fields, h("div", { class: "actions" }, button));
    el.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(el);
      const bad = [...el.elements].find((input) => input.willValidate && !input.validity.valid);
      if (bad) {
        const box = bad.closest(".field")?.querySelector(".field-error");
        bad.setAttribute("aria-invalid", "true");
        if (box) {
          box.textContent = bad.validationMessage;
          box.hidden = false;
        }
        bad.focus();
        return;
      }
      button.disabled = true;
      try {
        await onSubmit(Object.fromEntries(new FormData(el)), el);
      } finally {
        button.disabled = false;
      }
    });
    return el;
  }

  showCreateRoom() {
    const visibility = h(
      "fieldset",
      { class: "field" },
      h("legend", {}, "Who can join"),
      h("label", { class: "choice" }, h("input", { type: "radio", name: "kind", value: "public", checked: true, id: "kind-public" }), " Public: anyone can find and join it"),
      h("label", { class: "choice" }, h("input", { type: "radio", name: "kind", value: "private", id: "kind-private" }), " Private: people join with a code"),
      h("p", { class: "field-error", hidden: true }),
    );
    const password = field({ label: "Room password (optional)", name: "password", type: "password", autocomplete: "new-password", required: false, maxlength: 128, hint: "Asked together with the code." });
    password.hidden = true;
    visibility.addEventListener("change", () => {
      password.hidden = visibility.querySelector("input:checked")?.value !== "private";
    });
    const f = this.form(
      "create-room-form",
      [field({ label: "Name", name: "name", maxlength: 64, autocomplete: "off" }), field({ label: "Topic (optional)", name: "topic", required: false, maxlength: 200, autocomplete: "off" }), visibility, password],
      "Create room",
      async (values, el) => {
        const body = { name: values.name.trim(), kind: values.kind };
        if (values.topic?.trim()) body.topic = values.topic.trim();
        if (values.kind === "private" && values.password) body.password = values.password;
        try {
          const room = await this.session.api("POST", "/rooms", body);
          this.rooms.set(room.id, room);
          this.renderRoomList();
          if (room.kind === "private") this.navigate(`#/room-created/${room.id}`);
          else this.navigate(`#/rooms/${room.id}`);
        } catch (error) {
          showError(el, error, { email_unverified: "Verify your email address first: open the link we mailed you." });
        }
      },
    );
    this.setContent("New room", f);
  }

  showRoomCreated(roomId) {
    const room = this.rooms.get(roomId);
    if (!room) return this.navigate("#/rooms");
    this.setContent(
      `“${room.name}” is ready`,
      h("p", {}, "It is private: people join with this code", room.hasPassword ? " and the room password" : "", "."),
      h("p", { class: "join-code" }, h("code", { id: "join-code" }, room.joinCode || "")),
      h(
        "p",
        { class: "button-row" },
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            id: "copy-code",
            onclick: async (event) => {
              try {
                await navigator.clipboard.writeText(room.joinCode);
                event.target.textContent = "Copied";
              } catch {
                event.target.textContent = "Select the code to copy it";
              }
            },
          },
          "Copy code",
        ),
        h("a", { href: `#/rooms/${room.id}`, class: "button primary", id: "open-created-room" }, "Open the room"),
      ),
    );
  }

  async showDiscover() {
    const results = h("ul", { class: "discover-list", id: "discover-results", "aria-live": "polite" });
    const search = h("input", { type: "search", id: "discover-query", name: "q", autocomplete: "off" });
    const status = h("p", { class: "form-error", role: "alert", hidden: true });
    let cursor = null;
    let query = "";
    const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => load(false) }, "More rooms");
    const load = async (reset) => {
      if (reset) {
        cursor = null;
        clear(results);
      }
      status.hidden = true;
      try {
        const params = new URLSearchParams({ q: query, limit: "20" });
        if (cursor) params.set("cursor", cursor);
        const answer = await this.session.api("GET", `/rooms/public?${params}`);
        if (reset) clear(results);
        if (answer.rooms.length === 0 && !cursor) results.append(h("li", { class: "muted" }, query ? "No public rooms match." : "No public rooms yet."));
        for (const room of answer.rooms) results.append(this.discoverItem(room));
        cursor = answer.nextCursor;
        more.hidden = !cursor;
      } catch (error) {
        status.textContent = messageFor(error);
        status.hidden = false;
      }
    };
    let debounce = null;
    search.addEventListener("input", () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        query = search.value.trim();
        load(true);
      }, 250);
    });
    const searchForm = h("form", { role: "search", class: "search", onsubmit: (e) => e.preventDefault() }, h("label", { for: "discover-query" }, "Search public rooms"), search);
    this.setContent("Discover rooms", searchForm, status, results, more);
    await load(true);
  }

  discoverItem(room) {
    const member = this.rooms.has(room.id);
    const button = member
      ? h("a", { href: `#/rooms/${room.id}`, class: "button secondary" }, "Open")
      : h(
          "button",
          {
            type: "button",
            class: "primary",
            "data-join-room": room.id,
            "aria-label": `Join ${room.name}`,
            onclick: async () => {
              button.disabled = true;
              try {
                const joined = await this.session.api("POST", `/rooms/${room.id}/join`);
                this.rooms.set(joined.id, joined);
                this.renderRoomList();
                this.navigate(`#/rooms/${joined.id}`);
              } catch (error) {
                button.disabled = false;
                this.notice(messageFor(error), "error");
              }
            },
          },
          "Join",
        );
    return h(
      "li",
      { "data-room-id": room.id },
      h("div", { class: "room-text" }, h("span", { class: "room-name" }, `# ${room.name}`), h("span", { class: "preview" }, `${room.memberCount} member${room.memberCount === 1 ? "" : "s"}${room.topic ? " · " + room.topic : ""}`)),
      button,
    );
  }

  showJoinByCode() {
    const f = this.form(
      "join-form",
      [
        field({ label: "Join code", name: "code", autocomplete: "off", maxlength: 32, hint: "The code the room's owner shared with you." }),
        field({ label: "Room password (if it has one)", name: "password", type: "password", autocomplete: "off", required: false, maxlength: 128 }),
      ],
      "Join room",
      async (values, el) => {
        const body = { code: values.code.trim() };
        if (values.password) body.password = values.password;
        try {
          const room = await this.session.api("POST", "/rooms/join-by-code", body);
          this.rooms.set(room.id, room);
          this.renderRoomList();
          this.navigate(`#/rooms/${room.id}`);
        } catch (error) {
          showError(el, error, { invalid_join_code: "That code, or the room password, is wrong." });
        }
      },
    );
    this.setContent("Join a private room", f);
  }

  showDirect() {
    const f = this.form(
      "direct-form",
      [field({ label: "Username", name: "username", autocomplete: "off", maxlength: 32, hint: "Their username, without the @." })],
      "Start conversation",
      async (values, el) => {
        try {
          const room = await this.session.api("POST", "/direct", { username: values.username.trim().replace(/^@/, "") });
          this.rooms.set(room.id, room);
          this.renderRoomList();
          this.navigate(`#/rooms/${room.id}`);
        } catch (error) {
          showError(el, error, { user_not_found: "Nobody has that username." });
        }
      },
    );
    this.setContent("Message someone", f);
  }

  async showSessions() {
    const list = h("ul", { class: "sessions", id: "sessions-list" });
    const status = h("p", { class: "form-error", role: "alert", hidden: true });
    const everywhere = h(
      "button",
      {
        type: "button",
        class: "danger",
        id: "logout-everywhere",
        onclick: async () => {
          if (!confirm("Log out on every device, including this one?")) return;
          everywhere.disabled = true;
          try {
            await this.session.logout({ everywhere: true });
          } catch (error) {
            everywhere.disabled = false;
            status.textContent = messageFor(error);
            status.hidden = false;
          }
        },
      },
      "Log out everywhere",
    );
    this.setContent("Sessions", h("p", {}, "Where your account is logged in."), status, list, h("p", {}, everywhere));
    const load = async () => {
      try {
        const answer = await this.session.api("GET", "/sessions");
        clear(list);
        for (const s of answer.sessions) {
          const revoke = s.current
            ? h("span", { class: "current" }, "This browser")
            : h(
                "button",
                {
                  type: "button",
                  class: "secondary",
                  onclick: async () => {
                    try {
                      await this.session.api("DELETE", `/sessions/${encodeURIComponent(s.id)}`);
                      load();
                    } catch (error) {
                      status.textContent = messageFor(error);
                      status.hidden = false;
                    }
                  },
                },
                "Log out",
              );
          list.append(
            h(
              "li",
              { "data-session-id": s.id, class: s.current ? "current" : null },
              h("div", {}, h("strong", {}, describeAgent(s.userAgent)), h("span", { class: "muted" }, ` · ${s.ip || "unknown address"}`), h("br"), h("span", { class: "muted" }, `Signed in ${formatTime(s.createdAt)} · last active ${formatTime(s.lastUsedAt)}`)),
              revoke,
            ),
          );
        }
      } catch (error) {
        status.textContent = messageFor(error);
        status.hidden = false;
      }
    };
    await load();
  }
}

function describeAgent(agent) {
  if (!agent) return "Unknown device";
  const browser = /Edg\//.test(agent) ? "Edge" : /Firefox\//.test(agent) ? "Firefox" : /Chrom(e|ium)\//.test(agent) ? "Chromium" : /Safari\//.test(agent) ? "Safari" : /python/i.test(agent) ? "Script" : "Browser";
  const os = /Android/.test(agent) ? "Android" : /iPhone|iPad/.test(agent) ? "iOS" : /Mac OS X/.test(agent) ? "macOS" : /Windows/.test(agent) ? "Windows" : /Linux/.test(agent) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}
