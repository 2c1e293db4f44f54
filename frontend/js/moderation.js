// Room moderation in the web app (issue 16): the composer's slash commands, a member's menu
// in the members panel, the audit log, and the timeline lines of the `member:*` deltas.
// Every action goes over REST (docs/openapi.yaml, tag moderation); a command is never sent
// as a message. The server decides (RoomRules.swift has the matrix); what is offered here
// follows the same rules so nobody is shown a button that can only fail:
// moderators and up kick, mute and ban members below them; admins and up set moderator or
// member; owners also make admins and owners.

import { clear, formatTime, h, messageFor } from "./dom.js";
import { confirmDialog } from "./dialog.js";

/** Role ranks, as the server's RoomRole.rank. */
export const RANK = Object.freeze({ owner: 4, admin: 3, moderator: 2, member: 1, guest: 0 });

/** The longest mute, in seconds (28 days, as the server's RoomRules.maxMuteSeconds). */
export const MAX_MUTE_SECONDS = 28 * 24 * 3600;

export const COMMANDS = Object.freeze([
  ["/kick @user [reason]", "remove someone from the room (they can join again)"],
  ["/mute @user 10m [reason]", "stop someone posting for a while: 30s, 10m, 2h or 1d (at most 28d)"],
  ["/unmute @user", "let them post again"],
  ["/ban @user [reason]", "remove someone and keep them out"],
  ["/unban @user", "let them join again"],
  ["/role @user moderator", "set a role: owner, admin, moderator or member"],
  ["/help", "show this list"],
  ["//text", "send a message that starts with a slash"],
]);

const UNITS = { s: 1, m: 60, h: 3600, d: 86400 };

/** "10m" → 600; a bare number is minutes; null when it is not a duration. */
export function parseDuration(text) {
  const match = /^(\d{1,7})([smhd]?)$/i.exec(text || "");
  if (!match) return null;
  return Number(match[1]) * UNITS[(match[2] || "m").toLowerCase()];
}

/** 600 → "10 minutes". */
export function describeDuration(seconds) {
  for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${unit}${n === 1 ? "" : "s"}`;
    }
  }
  return `${seconds} second${seconds === 1 ? "" : "s"}`;
}

/**
 * Splits a command line: `{name, username, rest}` (rest: the words after the user), or
 * `{name}` for one without a user; null when `text` is not a command.
 */
export function parseCommand(text) {
  const match = /^\/(\w+)(?:\s+@?([\w.-]+))?(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!match) return null;
  return { name: match[1].toLowerCase(), username: match[2] || null, rest: (match[3] || "").trim() };
}

const name = (user) => (user ? user.displayName || user.username : "Someone");

/** The timeline line of a `member:*` delta (`event` is a ModerationEvent). */
export function describeEvent(eventName, event) {
  const who = name(event.user), by = name(event.by);
  const why = event.reason ? `: ${event.reason}` : "";
  switch (eventName) {
    case "member:role": return `${by} made ${who} ${event.role}`;
    case "member:kicked": return `${by} removed ${who}${why}`;
    case "member:muted": return `${by} muted ${who} for ${describeDuration(event.durationSeconds || 0)}${why}`;
    case "member:unmuted": return `${by} unmuted ${who}`;
    case "member:banned": return `${by} banned ${who}${why}`;
    case "member:unbanned": return `${by} lifted the ban on ${who}`;
    default: return `${by} moderated ${who}`;
  }
}

/** One audit-log entry as a sentence. */
function describeEntry(entry) {
  const actor = entry.actor ? `@${entry.actor.username}` : "A former member";
  const target = entry.target ? `@${entry.target.username}` : "a former member";
  const why = entry.reason ? ` (${entry.reason})` : "";
  switch (entry.action) {
    case "role": return `${actor} made ${target} ${entry.role}`;
    case "kick": return `${actor} kicked ${target}${why}`;
    case "mute": return `${actor} muted ${target} until ${formatTime(entry.until)}${why}`;
    case "unmute": return `${actor} unmuted ${target}`;
    case "ban": return `${actor} banned ${target}${why}`;
    case "unban": return `${actor} unbanned ${target}`;
    default: return `${actor} ${entry.action} ${target}`;
  }
}

export class RoomModeration {
  /**
   * session: the Session (REST). roomId: the room. myRole: () => my role in it.
   * members: the room's MembersPanel (usernames → ids, their roles).
   */
  constructor({ session, roomId, myRole, members }) {
    this.session = session;
    this.roomId = roomId;
    this.myRole = myRole;
    this.members = members;
    /** The line above the composer where commands answer (inline, never a message). */
    this.feedback = h("p", { class: "command-feedback", id: "command-feedback", role: "status", "aria-live": "polite", hidden: true });
  }

  get myRank() {
    return RANK[this.myRole()] ?? 0;
  }

  /** Whether I may kick, mute and ban (someone below me) and read the audit log. */
  canModerate() {
    return this.myRank >= RANK.moderator;
  }

  /** What I may do to `member` ([{label, run}]); empty when nothing. */
  actionsFor(member) {
    const theirs = RANK[member.role] ?? 1;
    if (member.user.id === this.session.user?.id || !this.canModerate() || this.myRank <= theirs) return [];
    const user = member.user;
    const actions = [];
    if (member.role !== "guest") {
      for (const role of ["owner", "admin", "moderator", "member"]) {
        const allowed = role === "owner" || role === "admin" ? this.myRole() === "owner" : this.myRank >= RANK.admin;
        if (allowed && role !== member.role) actions.push({ id: `role-${role}`, label: `Make ${role}`, run: () => this.setRole(user, role) });
      }
    }
    actions.push({ id: "mute-10m", label: "Mute 10 minutes", run: () => this.mute(user, 600, null) });
    actions.push({ id: "mute-1h", label: "Mute 1 hour", run: () => this.mute(user, 3600, null) });
    actions.push({ id: "unmute", label: "Unmute", run: () => this.unmute(user) });
    actions.push({ id: "kick", label: "Kick", run: () => this.confirmThen(`Kick ${name(user)}?`, "They leave the room now and can join it again.", "Kick", () => this.kick(user, null)) });
    actions.push({ id: "ban", label: "Ban", run: () => this.confirmThen(`Ban ${name(user)}?`, "They leave the room now and cannot join it again until unbanned.", "Ban", () => this.ban(user, null)) });
    return actions;
  }

  /** The "⋯" menu of a member in the members panel, or null when I can do nothing to them. */
  menuFor(member) {
    const actions = this.actionsFor(member);
    if (actions.length === 0) return null;
    const label = `Moderate ${name(member.user)}`;
    const list = h("div", { class: "member-menu-items", role: "menu" });
    const details = h("details", { class: "member-menu" }, h("summary", { "aria-label": label, title: label }, "⋯"), list);
    for (const action of actions) {
      list.append(h("button", {
        type: "button", role: "menuitem", class: "link-button", "data-action": action.id,
        onclick: () => {
          details.open = false;
          action.run();
        },
      }, action.label));
    }
    return details;
  }

  async confirmThen(title, text, confirmLabel, run) {
    if (await confirmDialog({ title, text, confirmLabel, danger: true })) await run();
  }

  // ---- the composer's commands ----

  /**
   * Runs a composer line that starts with "/". Resolves true when it worked (or was /help),
   * false when it failed: the reason is shown inline and the caller may put the text back.
   */
  async run(text) {
    const command = parseCommand(text);
    if (!command) return this.fail("Type /help for the commands.");
    if (command.name === "help") {
      this.show(h("span", {}, "Commands: ", ...COMMANDS.flatMap(([usage, what], i) => [i ? "; " : "", h("code", {}, usage), ` ${what}`])), false);
      return true;
    }
    const handlers = {
      kick: () => this.withMember(command, (user) => this.kick(user, command.rest || null)),
      mute: () => this.withMember(command, (user) => {
        const [first, ...why] = command.rest.split(/\s+/);
        const seconds = parseDuration(first);
        if (!seconds || seconds > MAX_MUTE_SECONDS) return this.fail("Give a duration like 30s, 10m, 2h or 1d (at most 28d): /mute @user 10m [reason]");
        return this.mute(user, seconds, why.join(" ") || null);
      }),
      unmute: () => this.withMember(command, (user) => this.unmute(user), { banned: false }),
      ban: () => this.withMember(command, (user) => this.ban(user, command.rest || null)),
      unban: () => this.withMember(command, (user) => this.unban(user), { banned: true }),
      role: () => this.withMember(command, (user) => {
        const role = command.rest.toLowerCase();
        if (!["owner", "admin", "moderator", "member"].includes(role)) return this.fail("Name a role: /role @user owner, admin, moderator or member");
        return this.setRole(user, role);
      }),
    };
    const handler = handlers[command.name];
    if (!handler) return this.fail(`Unknown command /${command.name}. Type /help for the commands.`);
    return handler();
  }

  /** Finds the @user of a command among the members (or, for /unban, the bans) and runs `body`. */
  async withMember(command, body, { banned = false } = {}) {
    if (!command.username) return this.fail(`Name someone: /${command.name} @user`);
    const wanted = command.username.toLowerCase();
    let user = this.members.members.find((m) => m.user.username.toLowerCase() === wanted)?.user;
    if (!user && banned) {
      try {
        const answer = await this.session.api("GET", `/rooms/${this.roomId}/bans`);
        user = answer.bans.find((b) => b.user.username.toLowerCase() === wanted)?.user;
      } catch (error) {
        return this.fail(messageFor(error));
      }
    }
    if (!user) return this.fail(banned ? `@${command.username} is not banned here.` : `Nobody here is called @${command.username}.`);
    return body(user);
  }

  // ---- the actions (REST) ----

  async call(method, path, body, done) {
    try {
      await this.session.api(method, path, body);
      this.show(done, false);
      return true;
    } catch (error) {
      return this.fail(messageFor(error));
    }
  }

  kick(user, reason) {
    const query = reason ? `?reason=${encodeURIComponent(reason)}` : "";
    return this.call("DELETE", `/rooms/${this.roomId}/members/${user.id}${query}`, undefined, `${name(user)} was kicked.`);
  }

  mute(user, durationSeconds, reason) {
    return this.call("POST", `/rooms/${this.roomId}/mutes`, { userId: user.id, durationSeconds, reason }, `${name(user)} is muted for ${describeDuration(durationSeconds)}.`);
  }

  unmute(user) {
    return this.call("DELETE", `/rooms/${this.roomId}/mutes/${user.id}`, undefined, `${name(user)} can post again.`);
  }

  ban(user, reason) {
    return this.call("POST", `/rooms/${this.roomId}/bans`, { userId: user.id, reason }, `${name(user)} is banned.`);
  }

  unban(user) {
    return this.call("DELETE", `/rooms/${this.roomId}/bans/${user.id}`, undefined, `${name(user)} may join again.`);
  }

  setRole(user, role) {
    return this.call("PUT", `/rooms/${this.roomId}/members/${user.id}/role`, { role }, `${name(user)} is now ${role}.`);
  }

  show(content, isError) {
    clear(this.feedback).append(content);
    this.feedback.classList.toggle("error", isError);
    this.feedback.setAttribute("role", isError ? "alert" : "status");
    this.feedback.hidden = false;
  }

  fail(text) {
    this.show(text, true);
    return false;
  }

  // ---- the audit log ----

  /** The header's "Audit log" button (moderators and up). */
  auditButton() {
    return h("button", { type: "button", class: "secondary", id: "audit-log-button", onclick: () => this.openAuditLog() }, "Audit log");
  }

  /** A modal list of the room's audit log, newest first, with "Load older". */
  async openAuditLog() {
    const list = h("ol", { class: "audit-log", id: "audit-log-entries" });
    const status = h("p", { class: "audit-log-status", role: "status" }, "Loading…");
    const more = h("button", { type: "button", class: "secondary", id: "audit-log-more", hidden: true }, "Load older");
    const closeButton = h("button", { type: "button", id: "audit-log-close" }, "Close");
    const dialog = h("dialog", { class: "dialog audit-log-dialog", id: "audit-log", "aria-labelledby": "audit-log-title" },
      h("h2", { id: "audit-log-title" }, "Audit log"), status, list, h("div", { class: "button-row dialog-buttons" }, more, closeButton));
    const returnFocus = document.activeElement;
    closeButton.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (returnFocus && returnFocus.isConnected) returnFocus.focus?.();
    });
    document.body.append(dialog);
    dialog.showModal();
    closeButton.focus();
    let before = null;
    const load = async () => {
      try {
        const answer = await this.session.api("GET", `/rooms/${this.roomId}/audit-log?limit=50${before ? `&before=${before}` : ""}`);
        for (const entry of answer.entries) {
          list.append(h("li", { "data-action": entry.action }, h("span", { dir: "auto" }, describeEntry(entry)), " ", h("time", { datetime: entry.createdAt }, formatTime(entry.createdAt))));
        }
        before = answer.nextBefore;
        more.hidden = !before;
        status.textContent = list.children.length ? "" : "Nothing yet.";
      } catch (error) {
        status.textContent = messageFor(error);
      }
    };
    more.addEventListener("click", load);
    await load();
  }
}
