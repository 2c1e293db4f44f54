// Desktop notifications (the browser's Notification API) for direct messages and mentions of
// me: asked for only when the person clicks "Turn on notifications" (never on page load),
// shown for a message of someone else in a direct room, or one that mentions me in any room
// (message.mentions, docs/PROTOCOL.md "Mentions"), unless that room is open in a focused
// window, and never for a room muted here. Mutes are kept per browser (localStorage), by room id.

const MUTED_KEY = "switchboard.muted-rooms";

export class Notifier {
  constructor() {
    this.muted = new Set(JSON.parse(localStorage.getItem(MUTED_KEY) || "[]"));
  }

  /** "unsupported", "default" (not asked yet), "granted" or "denied". */
  get permission() {
    return "Notification" in globalThis ? Notification.permission : "unsupported";
  }

  /** Asks the browser; resolves with the new permission. Call from a click. */
  async ask() {
    if (this.permission === "unsupported") return "unsupported";
    return Notification.requestPermission();
  }

  isMuted(roomId) {
    return this.muted.has(roomId);
  }

  setMuted(roomId, muted) {
    if (muted) this.muted.add(roomId);
    else this.muted.delete(roomId);
    localStorage.setItem(MUTED_KEY, JSON.stringify([...this.muted]));
  }

  /**
   * A `message:new` of someone else in `room` (as the RoomList holds it). openRoomId: the
   * room on screen. mentioned: whether it mentions me. onClick: () => void, e.g. open the room.
   */
  message(room, message, { openRoomId, title, mentioned = false, onClick }) {
    if (this.permission !== "granted" || (room.kind !== "direct" && !mentioned) || this.isMuted(room.id)) return;
    if (openRoomId === room.id && document.visibilityState === "visible" && document.hasFocus()) return;
    const notification = new Notification(title, { body: message.body.slice(0, 200), tag: `room-${room.id}` });
    notification.onclick = () => {
      window.focus();
      onClick?.();
      notification.close();
    };
  }
}
