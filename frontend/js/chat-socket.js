// The app's socket to the chat server: our SocketClient, authenticated with the session's
// access token on every (re)connect, with the policy for a refused connection, and chat
// events sent with acks (docs/PROTOCOL.md: "Connecting", "Token refresh on traffic").

import { SocketClient } from "./socketio.js";
import { ClientEvent } from "./events.js";

const ACK_TIMEOUT = 10000; // ms

export class ChatSocket {
  /** session: the Session (tokens; `end("revoked")` when the server says so). */
  constructor(session) {
    this.session = session;
    this.client = new SocketClient({
      auth: async () => ({ token: await session.freshToken() }),
      onConnectError: (error) => this.#onConnectError(error),
    });
  }

  get connected() {
    return this.client.connected;
  }

  /** Listens to a lifecycle (SocketEvent) or server (ServerEvent) event; returns the way to stop. */
  on(event, handler) {
    return this.client.on(event, handler);
  }

  connect() {
    this.client.connect();
  }

  disconnect() {
    this.client.disconnect();
  }

  /**
   * Emits a chat event with an ack and resolves with the ok answer (`{ok: true, …}`);
   * refreshes the token once if the socket's has expired. Rejects with an Error carrying
   * the ack's `code` and `fields`, or the client's ack_timeout / disconnected error.
   * timeout: ms to wait for each ack.
   */
  async request(event, payload, { timeout = ACK_TIMEOUT } = {}) {
    let answer = await this.client.emitWithAck(event, payload, { timeout });
    if (answer && answer.ok === false && answer.error?.code === "token_expired") {
      const token = await this.session.refresh();
      await this.client.emitWithAck(ClientEvent.AUTH_REFRESH, { token }, { timeout });
      answer = await this.client.emitWithAck(event, payload, { timeout });
    }
    if (!answer || answer.ok !== true) {
      const error = new Error(answer?.error?.message || "The server refused this.");
      error.code = answer?.error?.code || "unknown";
      error.fields = answer?.error?.fields;
      error.retryAfter = answer?.error?.retryAfter || null; // seconds (muted, too_many_*)
      throw error;
    }
    return answer;
  }

  /** A typing notice for a room; not worth buffering, so sent only while connected. */
  typing(roomId, typing) {
    if (this.client.connected) this.client.emit(ClientEvent.TYPING, { roomId, typing }, () => {});
  }

  /** A refused CONNECT: refresh and retry on token_expired; stop (ending the session if revoked) or retry. */
  async #onConnectError(error) {
    if (error.code === "token_expired") {
      try {
        await this.session.refresh();
        return "retry";
      } catch {
        return "stop";
      }
    }
    if (error.code === "session_revoked" || error.code === "invalid_token") {
      this.session.end("revoked");
      return "stop";
    }
    if (error.code === "no_credentials") return "stop";
    return "retry";
  }
}
