// A small Socket.IO v5 client over Engine.IO v4, WebSocket transport only.
//
// Wire format (from the Engine.IO v4 and Socket.IO v5 protocol specifications):
//   Engine.IO packets are one text frame each: a type digit then the data.
//     0 open {sid, upgrades, pingInterval, pingTimeout, maxPayload}   1 close
//     2 ping (server → client; we answer 3 pong)                       4 message
//   Socket.IO packets ride in Engine.IO messages: a type digit, then for a namespace
//   other than "/" the namespace and a comma, then an optional ack id, then JSON.
//     0 CONNECT (client sends auth object; server answers {sid})   1 DISCONNECT
//     2 EVENT [name, ...args]   3 ACK [...args]   4 CONNECT_ERROR {message, data}
//   5 and 6 (binary event / ack) are not used by this app and are ignored.
//
// Connection state recovery (socket.io 4.6+, the stock client's protocol): with recovery on,
// the server's CONNECT answer also carries `pid` (a private session id), and every logged event
// carries its offset, a string, as its last argument. We remember the pid and the last such
// offset and, on a reconnect, merge {pid, offset} into the CONNECT's auth object; the server
// then answers with the same pid (`recovered` is true) and sends the missed events first.
// Handlers get the arguments unchanged (the offset too, after the ones they read).

import { DisconnectReason, SocketEvent } from "./events.js";

const EIO = { OPEN: "0", CLOSE: "1", PING: "2", PONG: "3", MESSAGE: "4", NOOP: "6" };
const SIO = { CONNECT: 0, DISCONNECT: 1, EVENT: 2, ACK: 3, CONNECT_ERROR: 4 };

/** Error of an emit that got no acknowledgement in time, or was dropped. */
export class AckTimeoutError extends Error {
  constructor(event) {
    super(`No answer to "${event}" in time.`);
    this.name = "AckTimeoutError";
    this.code = "ack_timeout";
  }
}

/** A CONNECT_ERROR from the server: `code` is the refusal's code (e.g. token_expired). */
export class ConnectError extends Error {
  constructor(message, data) {
    super((data && data.message) || message || "Connection refused.");
    this.name = "ConnectError";
    this.code = (data && data.code) || message || "connect_error";
    this.data = data;
  }
}

/** Encodes one Socket.IO packet for namespace `nsp` as the text of an Engine.IO message. */
export function encodePacket({ type, nsp = "/", id, data }) {
  let out = String(type);
  if (nsp && nsp !== "/") out += nsp + ",";
  if (id !== undefined && id !== null) out += String(id);
  if (data !== undefined) out += JSON.stringify(data);
  return out;
}

/** Decodes the text of an Engine.IO message into a Socket.IO packet, or throws. */
export function decodePacket(text) {
  let i = 0;
  const type = Number(text.charAt(i++));
  if (!(type >= 0 && type <= 6) || text.length === 0) throw new Error("bad packet type");
  if (type === 5 || type === 6) {
    // Binary packets: "<count>-" attachments follow; not supported here.
    return { type, nsp: "/", binary: true };
  }
  let nsp = "/";
  if (text.charAt(i) === "/") {
    const comma = text.indexOf(",", i);
    const end = comma === -1 ? text.length : comma;
    nsp = text.slice(i, end);
    i = comma === -1 ? text.length : comma + 1;
  }
  let id;
  const start = i;
  while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  if (i > start) id = Number(text.slice(start, i));
  const rest = text.slice(i);
  const data = rest.length ? JSON.parse(rest) : undefined;
  return { type, nsp, id, data };
}

/** Exponential backoff with jitter: attempt 0 → ~min, doubling up to max. */
export function backoffDelay(attempt, { min = 500, max = 10000, jitter = 0.5 } = {}) {
  const base = Math.min(max, min * Math.pow(2, attempt));
  const spread = base * jitter;
  return Math.max(0, Math.round(base - spread + Math.random() * 2 * spread));
}

/**
 * One connection to the default namespace, reconnecting on its own.
 *
 * options:
 *   url          origin (default: this page's)
 *   path         "/socket.io/"
 *   auth         () => object | Promise<object>; asked on every (re)connect
 *   onConnectError async (ConnectError) => "retry" | "stop"; e.g. refresh on token_expired
 *   ackTimeout   ms before an emit's ack rejects (default 10000)
 *   reconnectDelay, reconnectDelayMax  backoff bounds in ms
 *   WebSocket    constructor (tests may pass another)
 *
 * Lifecycle events (listen with `on`): "connect" ({recovered}), "disconnect" (reason),
 * "connect_error" (ConnectError), "reconnect_attempt" ({attempt, delay}), "state" (state).
 */
export class SocketClient {
  constructor(options = {}) {
    this.options = {
      url: globalThis.location ? globalThis.location.origin : "",
      path: "/socket.io/",
      ackTimeout: 10000,
      reconnectDelay: 500,
      reconnectDelayMax: 10000,
      auth: () => ({}),
      onConnectError: async () => "stop",
      WebSocket: globalThis.WebSocket,
      ...options,
    };
    this.state = "idle"; // idle | connecting | connected | waiting | closed
    this.id = null;
    /** Whether the last CONNECT got the previous session back (missed events follow it). */
    this.recovered = false;
    this.pid = null; // private session id of connection state recovery (from the CONNECT answer)
    this.lastOffset = null; // offset of the last logged event received (a string)
    this.handlers = new Map();
    this.pendingAcks = new Map(); // id → {resolve, reject, timer, event}
    this.nextAckId = 0;
    this.buffer = []; // packets emitted while not connected
    this.ws = null;
    this.attempt = 0;
    this.reconnectTimer = null;
    this.heartbeatTimer = null;
    this.wanted = false;
  }

  /** Starts connecting (and keeps reconnecting until `disconnect()`). */
  connect() {
    if (this.wanted && this.state !== "closed" && this.state !== "idle") return this;
    this.wanted = true;
    this.attempt = 0;
    this.#open();
    return this;
  }

  /** Closes the connection for good; buffered emits and pending acks fail. */
  disconnect() {
    if (this.state === "connected") this.#sendSocketIO({ type: SIO.DISCONNECT });
    this.#close(DisconnectReason.CLIENT);
  }

  get connected() {
    return this.state === "connected";
  }

  on(event, handler) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(handler);
    return () => this.off(event, handler);
  }

  off(event, handler) {
    this.handlers.get(event)?.delete(handler);
  }

  /**
   * Emits an event. A function as the last argument receives the ack
   * (`(err, ...args)`; err is an AckTimeoutError when no answer came in time).
   * While reconnecting, the packet waits in a buffer and goes out on connect.
   */
  emit(event, ...args) {
    let callback;
    if (typeof args[args.length - 1] === "function") callback = args.pop();
    this.#emit(event, args, callback, this.options.ackTimeout);
    return this;
  }

  /** emit with an ack, as a Promise of the ack's first argument. */
  emitWithAck(event, payload, { timeout } = {}) {
    return new Promise((resolve, reject) => {
      this.#emit(event, [payload], (error, answer) => (error ? reject(error) : resolve(answer)), timeout || this.options.ackTimeout);
    });
  }

  /** Emits only if connected right now (typing notices): never buffered. */
  volatileEmit(event, ...args) {
    if (this.state === "connected") this.#sendSocketIO({ type: SIO.EVENT, data: [event, ...args] });
  }

  // ---- internals ----

  #emit(event, args, callback, timeout) {
    const packet = { type: SIO.EVENT, data: [event, ...args] };
    if (callback) {
      const id = this.nextAckId++;
      packet.id = id;
      const timer = setTimeout(() => {
        this.pendingAcks.delete(id);
        this.buffer = this.buffer.filter((p) => p !== packet);
        callback(new AckTimeoutError(event));
      }, timeout);
      this.pendingAcks.set(id, {
        event,
        timer,
        resolve: (ackArgs) => callback(null, ...ackArgs),
        reject: (error) => callback(error),
      });
    }
    if (this.state === "connected") this.#sendSocketIO(packet);
    else this.buffer.push(packet);
  }

  #dispatch(event, ...args) {
    for (const handler of [...(this.handlers.get(event) || [])]) {
      try {
        handler(...args);
      } catch (error) {
        console.warn("socket handler failed", event, error);
      }
    }
  }

  #setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.#dispatch(SocketEvent.STATE, state);
  }

  #open() {
    clearTimeout(this.reconnectTimer);
    this.#teardown(null);
    this.#setState("connecting");
    const base = new URL(this.options.path, this.options.url || "http://localhost/");
    base.protocol = base.protocol === "https:" ? "wss:" : "ws:";
    base.search = "?EIO=4&transport=websocket";
    let ws;
    try {
      ws = new this.options.WebSocket(base.toString());
    } catch (error) {
      this.#scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = (message) => {
      if (this.ws === ws) this.#onEngineFrame(String(message.data));
    };
    ws.onclose = () => {
      if (this.ws === ws) this.#drop(DisconnectReason.TRANSPORT_CLOSE);
    };
    ws.onerror = () => {
      // A close event always follows; nothing to do here.
    };
  }

  #teardown(reason) {
    clearTimeout(this.heartbeatTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close();
      } catch {
        /* already closed */
      }
    }
    if (this.state === "connected" && reason) {
      this.id = null;
      this.#dispatch(SocketEvent.DISCONNECT, reason);
    }
  }

  /**
   * The one way a connection ends for good (disconnect(), the server's DISCONNECT, a
   * refused CONNECT we do not retry, no credentials): no reconnect, buffered emits and
   * pending acks fail, state "closed". A "disconnect" is dispatched only if connected and
   * `reason` is given.
   */
  #close(reason) {
    this.wanted = false;
    // the server ended the session (or we did): the next connect() starts a new one
    this.pid = null;
    this.lastOffset = null;
    clearTimeout(this.reconnectTimer);
    this.#teardown(reason);
    this.#failAll();
    this.#setState("closed");
  }

  /** The transport is gone (closed, Engine.IO CLOSE, no ping in time): reconnect if wanted. */
  #drop(reason) {
    if (!this.ws) return;
    this.#teardown(null);
    this.#lost(reason);
  }

  #lost(reason) {
    const wasConnected = this.state === "connected";
    clearTimeout(this.heartbeatTimer);
    if (wasConnected) {
      this.id = null;
      this.#setState("waiting");
      this.#dispatch(SocketEvent.DISCONNECT, reason);
    }
    if (this.wanted) this.#scheduleReconnect();
    else this.#setState("closed");
  }

  #scheduleReconnect() {
    clearTimeout(this.reconnectTimer);
    const delay = backoffDelay(this.attempt, { min: this.options.reconnectDelay, max: this.options.reconnectDelayMax });
    this.attempt++;
    this.#setState("waiting");
    this.#dispatch(SocketEvent.RECONNECT_ATTEMPT, { attempt: this.attempt, delay });
    this.reconnectTimer = setTimeout(() => {
      if (this.wanted) this.#open();
    }, delay);
  }

  #armHeartbeat() {
    clearTimeout(this.heartbeatTimer);
    const { pingInterval = 25000, pingTimeout = 20000 } = this.handshake || {};
    this.heartbeatTimer = setTimeout(() => {
      // No ping from the server in time: the connection is dead.
      this.#drop(DisconnectReason.PING_TIMEOUT);
    }, pingInterval + pingTimeout);
  }

  #onEngineFrame(text) {
    const type = text.charAt(0);
    const rest = text.slice(1);
    switch (type) {
      case EIO.OPEN:
        try {
          this.handshake = JSON.parse(rest);
        } catch {
          this.handshake = {};
        }
        this.#armHeartbeat();
        this.#sendConnect();
        break;
      case EIO.PING:
        this.#armHeartbeat();
        this.ws?.send(EIO.PONG + rest);
        break;
      case EIO.CLOSE:
        this.#drop(DisconnectReason.TRANSPORT_CLOSE);
        break;
      case EIO.MESSAGE:
        this.#onSocketIOPacket(rest);
        break;
      default:
        break; // noop, pong, upgrade: not used on a websocket-only connection
    }
  }

  async #sendConnect() {
    const ws = this.ws;
    let auth;
    try {
      auth = await this.options.auth();
    } catch (error) {
      // No credentials (e.g. logged out meanwhile): stop.
      this.#close(null);
      this.#dispatch(SocketEvent.CONNECT_ERROR, new ConnectError("no_credentials", { code: "no_credentials", message: String(error?.message || error) }));
      return;
    }
    if (this.ws !== ws || !ws) return;
    this.#sendSocketIO({ type: SIO.CONNECT, data: this.#withRecovery(auth || {}) });
  }

  /** The auth object, with {pid, offset} merged in when there is a session to recover (as the stock client does). */
  #withRecovery(auth) {
    if (!this.pid) return auth;
    const recovery = { pid: this.pid };
    if (this.lastOffset !== null) recovery.offset = this.lastOffset;
    return { ...recovery, ...auth };
  }

  #sendSocketIO(packet) {
    this.ws?.send(EIO.MESSAGE + encodePacket(packet));
  }

  async #onSocketIOPacket(text) {
    let packet;
    try {
      packet = decodePacket(text);
    } catch {
      return;
    }
    if (packet.nsp !== "/") return;
    switch (packet.type) {
      case SIO.CONNECT: {
        this.id = packet.data?.sid ?? null;
        const pid = typeof packet.data?.pid === "string" ? packet.data.pid : null;
        this.recovered = pid !== null && pid === this.pid;
        this.pid = pid;
        // a new session: an offset of the old one means nothing to it
        if (!this.recovered) this.lastOffset = null;
        this.attempt = 0;
        this.#setState("connected");
        this.#dispatch(SocketEvent.CONNECT, { recovered: this.recovered });
        const queued = this.buffer;
        this.buffer = [];
        for (const p of queued) this.#sendSocketIO(p);
        break;
      }
      case SIO.CONNECT_ERROR: {
        const error = new ConnectError(packet.data?.message, packet.data?.data);
        this.#teardown(null);
        this.#dispatch(SocketEvent.CONNECT_ERROR, error);
        let decision = "stop";
        try {
          decision = await this.options.onConnectError(error);
        } catch {
          decision = "stop";
        }
        if (!this.wanted) return;
        if (decision === "retry") this.#scheduleReconnect();
        else this.#close(null);
        break;
      }
      case SIO.DISCONNECT: {
        // The server ended this socket (e.g. the session was revoked): no reconnect.
        this.#close(DisconnectReason.SERVER);
        break;
      }
      case SIO.EVENT: {
        if (!Array.isArray(packet.data) || typeof packet.data[0] !== "string") return;
        const [event, ...args] = packet.data;
        if (packet.id !== undefined) {
          let answered = false;
          args.push((...reply) => {
            if (answered) return;
            answered = true;
            this.#sendSocketIO({ type: SIO.ACK, id: packet.id, data: reply });
          });
        }
        this.#dispatch(event, ...args);
        // recovery: the last argument of a logged event is its offset
        const last = packet.data[packet.data.length - 1];
        if (this.pid && packet.data.length > 1 && typeof last === "string") this.lastOffset = last;
        break;
      }
      case SIO.ACK: {
        const pending = this.pendingAcks.get(packet.id);
        if (!pending) return;
        this.pendingAcks.delete(packet.id);
        clearTimeout(pending.timer);
        pending.resolve(Array.isArray(packet.data) ? packet.data : []);
        break;
      }
      default:
        break;
    }
  }

  #failAll() {
    const error = new Error("The connection was closed.");
    error.code = "disconnected";
    for (const [id, pending] of this.pendingAcks) {
      clearTimeout(pending.timer);
      this.pendingAcks.delete(id);
      pending.reject(error);
    }
    this.buffer = [];
  }
}
