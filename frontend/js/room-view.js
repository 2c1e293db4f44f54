// One open room: its header, message list, typing line, members panel and composer, and
// everything about it that lives only while it is open (the loaded messages, pending
// sends, members). The app hands it the room's realtime events; it loads history over
// REST (docs/openapi.yaml: GET /rooms/{id}/messages with before/after cursors) and sends
// over the socket (docs/PROTOCOL.md: message:send, room:read, typing).

import { clear, h, messageFor } from "./dom.js";
import { ClientEvent } from "./events.js";
import { Composer } from "./composer.js";
import { MembersPanel } from "./members.js";
import { MentionAutocomplete } from "./mentions.js";
import { MessageActions } from "./message-actions.js";
import { MessageList } from "./message-list.js";
import { RoomModeration, describeEvent } from "./moderation.js";
import { peerDeleted, roomName } from "./room-list.js";
import { typingText } from "./typing.js";
import { canSetGuests, guestSettingLine, roomSettingsButton } from "./guest.js";

const PAGE_SIZE = 50; // messages per history page
const MAX_PAGE_SIZE = 100; // the most GET /rooms/{id}/messages returns at once (docs/openapi.yaml)
const CATCH_UP_PAGE = 100; // messages per page when catching up after a reconnect
const CATCH_UP_PAGES = 20; // at most this many pages; later ones come with the next reconnect
const SEND_ACK_TIMEOUT = 20000; // ms; a send made while reconnecting waits in the buffer
const DELETED_PEER_NOTE = "Their account was deleted: you can read this conversation, but nobody can reply in it any more.";

export class RoomView {
  /**
   * room: the room as the RoomList holds it (the view reads it, the list owns it).
   * deps:
   *   session    the Session (REST calls, the user's id)
   *   socket     the ChatSocket (sends with acks, typing notices)
   *   rooms      the RoomList (last message, unread count, read cursor)
   *   presence   the Presence
   *   typists    the Typists
   *   postingBlocked  () => why this user cannot post yet (shown over a disabled composer), or null
   *   directBlocked   () => why this user cannot start a direct message yet (the members'
   *                   "Message" buttons are off, with it as their title), or null
   *   onLeave, onDelete  (view) => void; the header's Leave and Delete buttons
   *   onDirect   (user) => void; a member's "Message" button
   *   notifier   the Notifier (the Mute button), or null
   */
  constructor(room, { session, socket, rooms, presence, typists, notifier = null, postingBlocked = () => null, directBlocked = () => null, onLeave, onDelete, onDirect = null }) {
    this.notifier = notifier;
    this.postingBlocked = postingBlocked;
    this.id = room.id;
    this.room = room;
    this.session = session;
    this.socket = socket;
    this.rooms = rooms;
    this.presence = presence;
    this.typists = typists;
    this.onLeave = onLeave;
    this.onDelete = onDelete;
    this.closed = false;
    this.loadingOlder = false;
    const name = roomName(room);
    const selfId = () => session.user?.id;
    this.header = h("header", { class: "room-header" });
    this.messages = new MessageList({ name, selfId, onNearTop: () => this.loadOlder(), onRetry: (clientMsgId, body) => this.send(body, clientMsgId) });
    this.members = new MembersPanel(presence, { selfId, onMessage: onDirect, blocked: directBlocked, menu: (member) => this.moderation.menuFor(member) });
    // Kick, mute, ban, roles: the composer's slash commands, the members' menus, the audit log (moderation.js).
    this.moderation = new RoomModeration({ session, roomId: room.id, myRole: () => (rooms.get(this.id) || this.room).role, members: this.members });
    this.composer = new Composer({ name, onSend: (body) => this.send(body), onCommand: (text) => this.runCommand(text), sendTyping: (typing) => socket.typing(this.id, typing) });
    // `@` autocomplete over the members panel's list (mentions.js).
    this.mentionComplete = new MentionAutocomplete(this.composer.input, { members: () => this.members.members, selfId });
    this.messages.selfUser = () => session.user;
    // Reply, edit, delete, reactions on each message, and their deltas in place (message-actions.js).
    this.actions = new MessageActions({ socket, session, roomId: room.id, list: this.messages, myRole: () => (rooms.get(this.id) || this.room).role, composer: this.composer });
    this.messages.decorateItem = (li, message) => this.actions.decorate(li, message);
    this.typingLine = h("p", { class: "typing", id: "typing", "aria-live": "polite" });
    this.liveStatus = h("p", { class: "visually-hidden", role: "status" });
  }

  get name() {
    return roomName(this.room);
  }

  /** Puts the view into `content` (replacing what was there) and loads messages and members. */
  async open(content) {
    clear(content);
    const chatColumn = (this.chatColumn = h("div", { class: "chat-column" }, this.messages.view, this.typingLine, this.mentionComplete.list, this.moderation.feedback, this.actions.replyBar, this.composer.form));
    // A click anywhere in the room below its header closes the phone's room menu, as menus do.
    content.append(this.header, h("div", { class: "room-body", onclick: () => this.header.querySelector(".room-menu-toggle[aria-expanded=true]")?.click() }, chatColumn, this.members.panel), this.liveStatus);
    this.renderHeader();
    this.renderTyping();
    this.applyVerification();
    if (!content.contains(document.activeElement)) this.composer.input.focus({ preventScroll: true });
    await Promise.all([this.loadInitial(), this.loadMembers()]);
  }

  /**
   * Turns the composer off, saying why, while the user may not post (or on again): an
   * unverified address, or a direct message whose other person deleted their account (the
   * server refuses sends there; nobody would read them).
   */
  applyVerification() {
    const reason = peerDeleted(this.room) ? DELETED_PEER_NOTE : this.postingBlocked();
    this.composer.setDisabled(reason);
    // No "Reply" while nothing can be sent (it would only focus the disabled box).
    this.chatColumn?.classList.toggle("read-only", !!reason);
    if (reason) this.actions.cancelReply();
    this.members.render();
  }

  /** The other person of this direct message deleted their account (a `room:member` left). */
  onPeerGone() {
    this.renderHeader();
    this.composer.rename(this.name);
    this.messages.rename(this.name);
    this.applyVerification();
    this.announce(DELETED_PEER_NOTE);
    this.loadMembers();
  }

  /** The room is no longer shown: stops typing notices; late answers are dropped. */
  close() {
    this.closed = true;
    this.composer.stopTyping();
    this.messages.stop();
  }

  // ---- events from the app ----

  /** A `message:updated`, `message:deleted` or `reaction` of this room: one node changes. */
  onMessageChange(name, event) {
    if (name === "message:updated") this.actions.applyUpdate(event);
    else if (name === "message:deleted") this.actions.applyDelete(event);
    else if (name === "reaction") this.actions.applyReaction(event);
  }

  /** A `message:new` of this room. */
  onMessage(message) {
    this.messages.add([message], "append");
    this.typists.clear(this.id, message.authorId);
  }

  /** A `room:member` of this room about someone else. */
  onMember(event) {
    const name = event.user.displayName || event.user.username;
    if (event.change === "joined" && this.members.has(event.user.id)) {
      // A role change of a member (the room passed to them when its owner left).
      this.members.joined(event.user, event.role);
      if (event.role === "owner") {
        this.announce(`${name} is now the owner.`);
        this.messages.addEvent(`${name} is now the owner`);
      }
    } else if (event.change === "joined") {
      this.members.joined(event.user, event.role);
      this.announce(`${name} joined.`);
      this.messages.addEvent(`${name} joined`);
      // Presence of the newcomer: the server knows whether they are connected.
      this.loadMembers();
    } else if (this.members.left(event.user.id)) {
      this.announce(`${name} left.`);
      this.messages.addEvent(event.change === "removed" ? `${name} was removed` : `${name} left`);
    }
    this.renderTyping();
  }

  /**
   * A `room:updated` of this room, as `{name?, topic?}` holding only what changed (the
   * room's data is already changed): the header anew, and a line in the timeline.
   */
  onUpdated(changes) {
    this.renderHeader();
    if ("name" in changes) {
      this.composer.rename(this.name);
      this.messages.rename(this.name);
    }
    if ("name" in changes) this.messages.addEvent(`The room was renamed “${changes.name}”`);
    if ("topic" in changes) this.messages.addEvent(changes.topic ? `The topic is now “${changes.topic}”` : "The topic was cleared");
    if ("allowGuests" in changes) this.messages.addEvent(guestSettingLine(changes.allowGuests));
  }

  onPresence(userId, online) {
    this.members.setOnline(userId, online);
  }

  /**
   * A `member:*` moderation delta of this room (`eventName`, a ModerationEvent): a line in
   * the timeline, and the members panel follows (a new role; a kicked or banned member goes,
   * so the `room:member` removal that follows adds no second line).
   */
  onModeration(eventName, event) {
    const line = describeEvent(eventName, event);
    this.messages.addEvent(line);
    this.announce(`${line}.`);
    if (eventName === "member:role") this.members.joined(event.user, event.role);
    if (eventName === "member:kicked" || eventName === "member:banned") this.members.left(event.user.id);
    if (event.user.id === this.session.user?.id) this.renderHeader();
    this.members.render();
  }

  /** A composer line starting with "/" (never sent as a message): on failure the text goes back into the box. */
  async runCommand(text) {
    const ok = await this.moderation.run(text);
    if (!ok && !this.composer.input.value) this.composer.input.value = text;
  }

  announce(text) {
    this.liveStatus.textContent = text;
  }

  renderHeader() {
    const room = this.room;
    clear(this.header);
    const kindText = { public: "Public room", private: "Private room", direct: "Direct message" }[room.kind];
    const meta = [kindText, room.topic ? ` · ${room.topic}` : ""].join("");
    const info = h(
      "div",
      { class: "room-info" },
      h("a", { href: "#/rooms", class: "back-link" }, "‹ Rooms"),
      h("h2", { id: "room-title", tabindex: "-1", dir: "auto", title: this.name }, h("bdi", {}, this.name), room.kind === "direct" && !peerDeleted(room) ? this.presence.dot(room.peer.id) : null),
      // The join code (private rooms, for the roles that may invite) comes before the topic: the
      // line is cut with an ellipsis, and a long topic must not push the code out of sight.
      h("p", { class: "room-meta", title: meta }, kindText, room.kind === "public" && room.allowGuests ? h("span", { id: "room-guests-allowed" }, " · Guests allowed") : null, room.joinCode ? [" · Code ", h("code", { id: "room-join-code" }, room.joinCode)] : null, room.topic ? [" · ", h("bdi", {}, room.topic)] : ""),
    );
    const actions = h("div", { class: "room-actions", id: "room-actions" });
    // Phones: the buttons sit behind one menu button (CSS shows them inline on wider screens).
    const menu = h("button", { type: "button", class: "room-menu-toggle", id: "room-menu", "aria-expanded": "false", "aria-controls": "room-actions", "aria-label": "Room options" }, "⋯");
    const setMenu = (open) => {
      menu.setAttribute("aria-expanded", String(open));
      actions.classList.toggle("open", open);
    };
    menu.addEventListener("click", () => setMenu(menu.getAttribute("aria-expanded") !== "true"));
    actions.addEventListener("click", (event) => {
      if (event.target.closest("button")) setMenu(false);
    });
    // Escape closes it from its buttons or from the menu button itself.
    for (const el of [actions, menu]) {
      el.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && menu.getAttribute("aria-expanded") === "true") {
          setMenu(false);
          menu.focus();
        }
      });
    }
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
          this.members.panel.classList.toggle("shown", !expanded);
        },
      },
      "Members",
    );
    actions.append(membersToggle);
    if (this.notifier) {
      const mute = h("button", { type: "button", class: "secondary", id: "mute-room", "aria-pressed": String(this.notifier.isMuted(this.id)) }, this.notifier.isMuted(this.id) ? "Unmute" : "Mute");
      mute.addEventListener("click", () => {
        this.notifier.setMuted(this.id, !this.notifier.isMuted(this.id));
        this.renderHeader();
      });
      actions.append(mute);
    }
    if (room.kind !== "direct") actions.append(h("button", { type: "button", class: "secondary", id: "leave-room", onclick: () => this.onLeave(this) }, "Leave"));
    if (room.kind !== "direct" && this.moderation.canModerate()) actions.append(this.moderation.auditButton());
    // "Allow guests" (guest.js): public rooms, for their owners and admins (PATCH /rooms/{id}).
    if (canSetGuests({ ...room, role: (this.rooms.get(this.id) || room).role })) {
      actions.append(roomSettingsButton({
        session: this.session,
        room,
        onSaved: (answer) => {
          const changed = !!answer.allowGuests !== !!room.allowGuests;
          room.allowGuests = !!answer.allowGuests;
          this.rooms.update(this.id);
          if (changed) this.onUpdated({ allowGuests: room.allowGuests });
        },
      }));
    }
    if (room.role === "owner" && room.kind !== "direct") actions.append(h("button", { type: "button", class: "danger", id: "delete-room", onclick: () => this.onDelete(this) }, "Delete"));
    this.header.append(info, menu, actions);
  }

  renderTyping() {
    clear(this.typingLine).append(...typingText(this.typists.of(this.id).map((id) => this.members.nameOf(id))));
  }

  // ---- history ----

  async loadInitial() {
    try {
      // Enough to reach the first unread message, so the divider can be above it (the API takes at most 100).
      const unread = (this.rooms.get(this.id) || this.room).unreadCount || 0;
      const page = await this.session.api("GET", `/rooms/${this.id}/messages?limit=${Math.min(MAX_PAGE_SIZE, Math.max(PAGE_SIZE, unread + 1))}`);
      if (this.closed) return;
      this.messages.hasMore = page.hasMore;
      const room = this.rooms.get(this.id) || this.room;
      this.messages.add(page.messages, "initial", { lastReadId: room.unreadCount > 0 ? room.lastReadMessageId || 0 : null });
      this.markRead();
    } catch (error) {
      if (this.closed) return;
      this.messages.notice(`Could not load messages: ${messageFor(error)}`);
    }
  }

  async loadOlder() {
    const list = this.messages;
    if (!list.hasMore || this.loadingOlder || this.closed || !list.first) return;
    this.loadingOlder = true;
    list.loadingOlder(true);
    try {
      const page = await this.session.api("GET", `/rooms/${this.id}/messages?before=${list.first.id}&limit=${PAGE_SIZE}`);
      if (this.closed) return;
      list.hasMore = page.hasMore;
      list.add(page.messages, "prepend");
    } catch (error) {
      this.announce(`Could not load earlier messages: ${messageFor(error)}`);
    } finally {
      this.loadingOlder = false;
      list.loadingOlder(false);
    }
  }

  /** After a reconnect: the messages missed while away. */
  async loadNewer() {
    if (!this.messages.last) return this.loadInitial();
    try {
      let after = this.messages.last.id;
      for (let i = 0; i < CATCH_UP_PAGES; i++) {
        const page = await this.session.api("GET", `/rooms/${this.id}/messages?after=${after}&limit=${CATCH_UP_PAGE}`);
        if (this.closed) return;
        this.messages.add(page.messages, "append");
        if (!page.hasMore || page.messages.length === 0) break;
        after = page.messages[page.messages.length - 1].id;
      }
      this.markRead();
    } catch {
      // The next reconnect tries again.
    }
  }

  async loadMembers() {
    try {
      const answer = await this.session.api("GET", `/rooms/${this.id}/members`);
      if (this.closed) return;
      this.members.set(answer.members);
      this.renderTyping();
      if (this.room.kind === "direct") this.renderHeader();
    } catch (error) {
      if (this.closed) return;
      this.members.showError(`Could not load members: ${messageFor(error)}`);
    }
  }

  // ---- sending and reading ----

  /** Sends a message (or retries one: same clientMsgId, so the server stores it once). */
  send(body, clientMsgId = crypto.randomUUID()) {
    this.messages.addPending(clientMsgId, body);
    this.composer.stopTyping();
    const replyTo = this.actions.takeReply() ?? undefined;
    this.socket.request(ClientEvent.MESSAGE_SEND, { roomId: this.id, body, clientMsgId, replyTo }, { timeout: SEND_ACK_TIMEOUT })
      .then((answer) => {
        if (!this.closed) this.messages.add([answer.message], "append");
        const room = this.rooms.get(this.id);
        if (room && this.rooms.noteMessage(room, answer.message)) this.rooms.update(this.id);
      })
      .catch((error) => this.messages.failPending(clientMsgId, error));
  }

  /** Moves the read cursor to the newest message shown, if the page is visible and it is not there yet. */
  markRead() {
    if (this.closed || document.visibilityState !== "visible") return;
    const last = this.messages.last;
    const room = this.rooms.get(this.id);
    if (!last || !room) return;
    if ((room.lastReadMessageId || 0) >= last.id && !room.unreadCount) return;
    room.unreadCount = 0;
    room.mentionCount = 0;
    room.lastReadMessageId = Math.max(room.lastReadMessageId || 0, last.id);
    this.rooms.update(this.id);
    this.socket.request(ClientEvent.ROOM_READ, { roomId: this.id, messageId: last.id }).catch(() => {
      // Over REST if the socket is not there (reconnecting).
      this.session.api("POST", `/rooms/${this.id}/read`, { messageId: last.id }).catch(() => {});
    });
  }
}
