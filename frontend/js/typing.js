// Who is typing where, from the `typing` events of docs/PROTOCOL.md. Kept for every room
// (not only the open one) so that opening a room shows who is typing in it. A typist is
// forgotten on `typing: false`, on their message, or TYPING_SHOW_FOR ms after their last
// `typing: true` (the notice is volatile: a lost `false` must not leave them typing).

import { h } from "./dom.js";

const TYPING_SHOW_FOR = 6000; // ms

export class Typists {
  /** onChange: (roomId) => void, after the typists of that room changed. */
  constructor(onChange) {
    this.onChange = onChange;
    this.rooms = new Map(); // roomId → Map(userId → timer)
  }

  /** A `typing` event: {roomId, userId, typing}. */
  update({ roomId, userId, typing }) {
    if (!this.rooms.has(roomId)) this.rooms.set(roomId, new Map());
    const typists = this.rooms.get(roomId);
    clearTimeout(typists.get(userId));
    if (typing) typists.set(userId, setTimeout(() => this.clear(roomId, userId), TYPING_SHOW_FOR));
    else typists.delete(userId);
    this.onChange(roomId);
  }

  /** Forgets one typist (they sent their message). */
  clear(roomId, userId) {
    const typists = this.rooms.get(roomId);
    if (!typists?.has(userId)) return;
    clearTimeout(typists.get(userId));
    typists.delete(userId);
    this.onChange(roomId);
  }

  /** The ids of the users typing in a room. */
  of(roomId) {
    return [...(this.rooms.get(roomId)?.keys() || [])];
  }

  stop() {
    for (const typists of this.rooms.values()) for (const timer of typists.values()) clearTimeout(timer);
    this.rooms.clear();
  }
}

/**
 * "Ann is typing…", "Ann and Bo are typing…", "Several people are typing…", or nothing, as
 * nodes for `append`: each name in a <bdi>, so a right-to-left name does not reorder the sentence.
 */
export function typingText(names) {
  const name = (text) => h("bdi", {}, text);
  if (names.length === 0) return [];
  if (names.length === 1) return [name(names[0]), " is typing…"];
  if (names.length === 2) return [name(names[0]), " and ", name(names[1]), " are typing…"];
  return ["Several people are typing…"];
}
