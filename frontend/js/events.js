// Event names, in one place. The chat events are those of docs/PROTOCOL.md; the
// lifecycle events and disconnect reasons are the ones socket.io-client v4 uses, which
// our client in socketio.js follows.

/** Client → server chat events (each sent with an ack: `{ok: true, …}` or `{ok: false, error}`). */
export const ClientEvent = Object.freeze({
  MESSAGE_SEND: "message:send", // {roomId, body, clientMsgId}
  ROOM_READ: "room:read", // {roomId, messageId}
  TYPING: "typing", // {roomId, typing}
  AUTH_REFRESH: "auth:refresh", // {token}
  MESSAGE_EDIT: "message:edit", // {messageId, body, roomId?}
  MESSAGE_DELETE: "message:delete", // {messageId, roomId?}
  REACTION_ADD: "reaction:add", // {messageId, emoji, roomId?}
  REACTION_REMOVE: "reaction:remove", // {messageId, emoji, roomId?}
});

/** Server → client chat events. */
export const ServerEvent = Object.freeze({
  MESSAGE_NEW: "message:new",
  ROOM_MEMBER: "room:member",
  ROOM_UPDATED: "room:updated",
  ROOM_DELETED: "room:deleted",
  READ: "read",
  TYPING: "typing",
  PRESENCE: "presence",
  AUTH_TOKEN: "auth:token",
});

/** Server → client moderation deltas (each a ModerationEvent: {roomId, user, by, role?, reason?, until?, durationSeconds?}). */
export const ModerationEvent = Object.freeze({
  ROLE: "member:role",
  KICKED: "member:kicked",
  MUTED: "member:muted",
  UNMUTED: "member:unmuted",
  BANNED: "member:banned",
  UNBANNED: "member:unbanned",
});

/** Server → client changes to an existing message, for the open room (message-actions.js). */
export const MessageChangeEvent = Object.freeze({
  UPDATED: "message:updated", // {id, roomId, body, editedAt}
  DELETED: "message:deleted", // {id, roomId, deletedAt}
  REACTION: "reaction", // {messageId, roomId, emoji, userId, added}
});

/** What a SocketClient reports about itself (listen with `socket.on`). */
export const SocketEvent = Object.freeze({
  CONNECT: "connect",
  DISCONNECT: "disconnect", // (reason: a DisconnectReason)
  CONNECT_ERROR: "connect_error", // (ConnectError)
  RECONNECT_ATTEMPT: "reconnect_attempt", // ({attempt, delay in ms})
  STATE: "state", // ("idle" | "connecting" | "connected" | "waiting" | "closed")
});

/** The `reason` of a "disconnect", as socket.io-client v4 names them. */
export const DisconnectReason = Object.freeze({
  SERVER: "io server disconnect", // the server ended the socket: no reconnect
  CLIENT: "io client disconnect", // disconnect() was called
  TRANSPORT_CLOSE: "transport close",
  PING_TIMEOUT: "ping timeout",
});
