// Edits, deletes, replies and reactions on the messages of the open room (docs/PROTOCOL.md,
// "Edits, deletes, replies and reactions"). MessageList builds each message's <li>; this
// module adds the reply quote, the reaction bar and the action buttons to it, and applies the
// room's `message:updated`, `message:deleted` and `reaction` deltas to that one node in place
// (nothing else in the list is rebuilt). Text from users is always text (textContent through
// h()), with dir="auto".

import { clear, h, linkify, messageFor } from "./dom.js";
import { ClientEvent } from "./events.js";
import { confirmDialog } from "./dialog.js";
import { markMentions, mentionsUser } from "./mentions.js";

/** The picker's choices; the server takes any single emoji (MessageRules.emoji). */
export const REACTION_CHOICES = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "✅"];

export class MessageActions {
  /**
   * socket: the ChatSocket; session: the Session (REST, the user); roomId: the room;
   * list: the MessageList (its `nodes` and `messages`); myRole: () => my role in the room;
   * composer: the Composer (its input gets the focus when replying).
   */
  constructor({ socket, session, roomId, list, myRole, composer }) {
    this.socket = socket;
    this.session = session;
    this.roomId = roomId;
    this.list = list;
    this.myRole = myRole;
    this.composer = composer;
    this.replyTo = null; // the message being replied to
    this.replyBar = h("div", { class: "reply-bar", id: "reply-bar", hidden: true });
  }

  selfId() {
    return this.session.user?.id;
  }

  message(id) {
    return this.list.messages.find((m) => m.id === id);
  }

  // ---- building one message ----

  /** Adds the quote, reactions and actions to a message's <li> (MessageList calls it for each new node). */
  decorate(li, message) {
    if (message.replyPreview) li.querySelector(".meta")?.after(this.#quote(message.replyPreview));
    if (message.editedAt && !message.deletedAt) li.querySelector(".meta")?.append(" ", h("span", { class: "edited", title: new Date(message.editedAt).toLocaleString() }, "(edited)"));
    if (message.deletedAt) {
      this.#tombstone(li);
      return;
    }
    li.append(h("div", { class: "reactions", role: "group", "aria-label": "Reactions" }), this.#actions(message));
    this.#renderReactions(li, message);
  }

  #quote(preview) {
    const who = preview.displayName || preview.username;
    return h(
      "blockquote",
      { class: "reply-quote", "data-reply-to": preview.id },
      h("span", { class: "reply-author", dir: "auto" }, who),
      " ",
      preview.deleted ? h("em", { class: "reply-excerpt" }, "Message deleted") : h("span", { class: "reply-excerpt", dir: "auto" }, preview.excerpt || ""),
    );
  }

  #actions(message) {
    const mine = message.authorId === this.selfId();
    const role = this.myRole?.();
    // The author, or a moderator and up (docs/PROTOCOL.md, "Delete"; the server's RoomRules.mayDeleteOthersMessages).
    const mayDelete = mine || role === "owner" || role === "admin" || role === "moderator";
    return h(
      "div",
      { class: "message-actions" },
      h("button", { type: "button", class: "link-button action-reply", onclick: () => this.startReply(message.id) }, "Reply"),
      h("button", { type: "button", class: "link-button action-react", "aria-haspopup": "true", onclick: (event) => this.#togglePicker(event.currentTarget, message.id) }, "React"),
      mine && h("button", { type: "button", class: "link-button action-edit", onclick: () => this.startEdit(message.id) }, "Edit"),
      mayDelete && h("button", { type: "button", class: "link-button action-delete", onclick: () => this.confirmDelete(message.id) }, "Delete"),
    );
  }

  #tombstone(li) {
    li.classList.add("deleted");
    li.querySelector(".reactions")?.remove();
    li.querySelector(".message-actions")?.remove();
    li.querySelector(".reaction-picker")?.remove();
    li.querySelector(".edit-form")?.remove();
    const body = li.querySelector(".body");
    const gone = h("p", { class: "body deleted-body" }, h("em", {}, "Message deleted"));
    if (body) body.replaceWith(gone);
    else li.append(gone);
  }

  #renderReactions(li, message) {
    const bar = li.querySelector(".reactions");
    if (!bar) return;
    clear(bar);
    for (const reaction of message.reactions || []) {
      const chip = h(
        "button",
        {
          type: "button",
          class: ["reaction", reaction.me && "mine"],
          "data-emoji": reaction.emoji,
          "aria-pressed": reaction.me ? "true" : "false",
          "aria-label": `${reaction.emoji} ${reaction.count}`,
          onclick: () => this.react(message.id, reaction.emoji, !reaction.me),
          onmouseenter: (event) => this.#whoReacted(event.currentTarget, message.id, reaction.emoji),
          onfocus: (event) => this.#whoReacted(event.currentTarget, message.id, reaction.emoji),
        },
        h("span", { class: "emoji" }, reaction.emoji),
        " ",
        h("span", { class: "count" }, String(reaction.count)),
      );
      bar.append(chip);
    }
  }

  /** Fills a chip's title (and its `data-who`) with who reacted so (GET …/reactions). */
  async #whoReacted(chip, messageId, emoji) {
    if (chip.dataset.loading) return;
    chip.dataset.loading = "1";
    try {
      const answer = await this.session.api("GET", `/rooms/${this.roomId}/messages/${messageId}/reactions?emoji=${encodeURIComponent(emoji)}&limit=20`);
      const group = answer.reactions?.[0];
      if (!group) return;
      const names = group.users.map((u) => (u.id === this.selfId() ? "You" : u.displayName || u.username));
      const more = group.count - names.length;
      const text = names.join(", ") + (more > 0 ? ` and ${more} more` : "");
      chip.title = `${text} reacted with ${emoji}`;
      chip.dataset.who = text;
    } catch {
      // Only a tooltip: leave it out.
    } finally {
      delete chip.dataset.loading;
    }
  }

  #togglePicker(button, messageId) {
    const li = this.list.nodes.get(messageId);
    const open = li?.querySelector(".reaction-picker");
    if (open) {
      open.remove();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    const picker = h(
      "div",
      { class: "reaction-picker", role: "menu", "aria-label": "Add a reaction" },
      REACTION_CHOICES.map((emoji) => h("button", {
        type: "button",
        role: "menuitem",
        class: "pick",
        "data-emoji": emoji,
        onclick: () => {
          picker.remove();
          button.setAttribute("aria-expanded", "false");
          const current = this.message(messageId)?.reactions?.find((r) => r.emoji === emoji);
          this.react(messageId, emoji, !current?.me);
        },
      }, emoji)),
    );
    picker.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        picker.remove();
        button.focus();
      }
    });
    button.setAttribute("aria-expanded", "true");
    li.append(picker);
    picker.querySelector("button")?.focus();
  }

  // ---- acting ----

  async react(messageId, emoji, add) {
    try {
      await this.socket.request(add ? ClientEvent.REACTION_ADD : ClientEvent.REACTION_REMOVE, { roomId: this.roomId, messageId, emoji });
    } catch (error) {
      this.#flash(messageId, messageFor(error));
    }
  }

  startReply(messageId) {
    const message = this.message(messageId);
    if (!message || message.deletedAt || this.composer.disabledReason) return;
    this.replyTo = message;
    const who = message.author ? message.author.displayName || message.author.username : `User ${message.authorId}`;
    clear(this.replyBar);
    this.replyBar.append(
      h("span", { class: "reply-label" }, "Replying to "),
      h("bdi", { class: "reply-author" }, who),
      h("span", { class: "reply-excerpt", dir: "auto" }, [...message.body].slice(0, 100).join("")),
      h("button", { type: "button", class: "link-button reply-cancel", "aria-label": "Cancel reply", onclick: () => this.cancelReply() }, "Cancel"),
    );
    this.replyBar.hidden = false;
    this.composer.input.focus();
  }

  cancelReply() {
    this.replyTo = null;
    this.replyBar.hidden = true;
    clear(this.replyBar);
  }

  /** The message a send replies to (and the reply bar closes), or null. */
  takeReply() {
    const id = this.replyTo?.id ?? null;
    if (id !== null) this.cancelReply();
    return id;
  }

  /** Edit in place: the body becomes a text box with Save and Cancel (Enter saves, Escape cancels). */
  startEdit(messageId) {
    const li = this.list.nodes.get(messageId);
    const message = this.message(messageId);
    if (!li || !message || message.deletedAt || li.querySelector(".edit-form")) return;
    const body = li.querySelector(".body");
    const input = h("textarea", { class: "edit-input", dir: "auto", rows: "2", "aria-label": "Edit message" });
    input.value = message.body;
    const cancel = () => {
      form.remove();
      if (body) body.hidden = false;
    };
    const save = async () => {
      const text = input.value.trim();
      if (!text || text === message.body) return cancel();
      try {
        const answer = await this.socket.request(ClientEvent.MESSAGE_EDIT, { roomId: this.roomId, messageId, body: text });
        this.applyUpdate(answer.message);
      } catch (error) {
        errorLine.textContent = messageFor(error);
      }
    };
    const errorLine = h("p", { class: "send-error", role: "alert" });
    const form = h(
      "form",
      { class: "edit-form", onsubmit: (event) => { event.preventDefault(); save(); } },
      input,
      h("div", { class: "button-row" }, h("button", { type: "submit", class: "primary edit-save" }, "Save"), h("button", { type: "button", class: "edit-cancel", onclick: cancel }, "Cancel")),
      errorLine,
    );
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        save();
      } else if (event.key === "Escape") cancel();
    });
    if (body) body.hidden = true;
    (body || li.querySelector(".meta")).after(form);
    input.focus();
  }

  async confirmDelete(messageId) {
    const ok = await confirmDialog({ title: "Delete message?", text: "It is removed for everyone in the room. This cannot be undone.", confirmLabel: "Delete", danger: true });
    if (!ok) return;
    try {
      const answer = await this.socket.request(ClientEvent.MESSAGE_DELETE, { roomId: this.roomId, messageId });
      this.applyDelete(answer.message);
    } catch (error) {
      this.#flash(messageId, messageFor(error));
    }
  }

  #flash(messageId, text) {
    const li = this.list.nodes.get(messageId);
    if (!li) return;
    li.querySelector(".action-error")?.remove();
    li.append(h("p", { class: "send-error action-error", role: "alert" }, text));
  }

  // ---- the room's deltas, applied to one node ----

  /** `message:updated` (or an edit's ack). */
  applyUpdate(event) {
    const message = this.message(event.id);
    const li = this.list.nodes.get(event.id);
    if (!message || !li || message.deletedAt) return;
    message.body = event.body;
    message.editedAt = event.editedAt;
    message.mentions = event.mentions;
    li.classList.toggle("mentions-me", mentionsUser(message, this.selfId()));
    li.querySelector(".edit-form")?.remove();
    const body = markMentions(h("p", { class: "body", dir: "auto" }, linkify(event.body)), message, this.session.user);
    li.querySelector(".body")?.replaceWith(body);
    if (!li.querySelector(".edited")) li.querySelector(".meta")?.append(" ", h("span", { class: "edited", title: new Date(event.editedAt).toLocaleString() }, "(edited)"));
    // Replies quoting it show the new words.
    for (const quote of this.list.list.querySelectorAll(`blockquote[data-reply-to="${event.id}"] .reply-excerpt`)) quote.textContent = [...event.body.replace(/\s+/g, " ")].slice(0, 100).join("");
  }

  /** `message:deleted` (or a delete's ack). */
  applyDelete(event) {
    const message = this.message(event.id);
    const li = this.list.nodes.get(event.id);
    if (this.replyTo?.id === event.id) this.cancelReply();
    for (const quote of this.list.list.querySelectorAll(`blockquote[data-reply-to="${event.id}"] .reply-excerpt`)) quote.replaceWith(h("em", { class: "reply-excerpt" }, "Message deleted"));
    if (!message || !li) return;
    message.deletedAt = event.deletedAt;
    message.body = "";
    message.reactions = undefined;
    this.#tombstone(li);
  }

  /** `reaction`: one user's emoji added or removed. */
  applyReaction(event) {
    const message = this.message(event.messageId);
    const li = this.list.nodes.get(event.messageId);
    if (!message || !li || message.deletedAt) return;
    const reactions = message.reactions ? [...message.reactions] : [];
    const index = reactions.findIndex((r) => r.emoji === event.emoji);
    const me = event.userId === this.selfId();
    if (event.added) {
      if (index < 0) reactions.push({ emoji: event.emoji, count: 1, me });
      else reactions[index] = { ...reactions[index], count: reactions[index].count + 1, me: reactions[index].me || me };
    } else if (index >= 0) {
      const count = reactions[index].count - 1;
      if (count <= 0) reactions.splice(index, 1);
      else reactions[index] = { ...reactions[index], count, me: me ? false : reactions[index].me };
    }
    message.reactions = reactions;
    this.#renderReactions(li, message);
  }
}
