// REST calls and the session: the access token lives in memory only; the refresh token
// is an HttpOnly cookie the browser sends to /api/auth/refresh.
//
// Several tabs share one refresh cookie, and the server revokes a session whose refresh
// token is presented twice. So refreshes are serialised across tabs with a Web Lock,
// and a tab that refreshes hands the new access token to the others on a
// BroadcastChannel; a tab that waited for the lock uses that token instead of
// refreshing again.

const HINT_KEY = "switchboard.session"; // "1" while this browser probably has a session cookie
const DELETION_WINDOW = 60000; // ms; how long a started account deletion colours the other tabs' events

/** An error answer of the API: `{error: {code, message, fields?}}`, plus the HTTP status. */
export class APIError extends Error {
  constructor(status, code, message, fields, retryAfter) {
    super(message || "Something went wrong.");
    this.name = "APIError";
    this.status = status;
    this.code = code || `http_${status}`;
    this.fields = fields || null;
    this.retryAfter = retryAfter || null;
  }
}

/** Failures that are not answers: offline, server down, aborted. */
export function networkError(cause) {
  const error = new APIError(0, "network_error", "Could not reach the server. Check your connection and try again.");
  error.cause = cause;
  return error;
}

async function parseResponse(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json().catch(() => null) : null;
  if (response.ok) return body;
  const error = body && body.error ? body.error : {};
  throw new APIError(
    response.status,
    error.code,
    error.message || `The server answered ${response.status}.`,
    error.fields,
    response.headers.get("retry-after"),
  );
}

/** A plain call with no credentials (register, login, verify, reset...). */
export async function request(method, path, body) {
  return send(method, path, body, {});
}

/** One JSON call to the API; network failures and error answers become APIError. */
async function send(method, path, body, headers) {
  let response;
  try {
    response = await fetch("/api" + path, {
      method,
      headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (cause) {
    throw networkError(cause);
  }
  return parseResponse(response);
}

export class Session extends EventTarget {
  constructor() {
    super();
    this.accessToken = null;
    this.expiresAt = 0;
    this.user = null;
    this.generation = 0; // bumps whenever the token changes
    this.refreshing = null;
    this.timer = null;
    this.deletingUntil = 0; // ms since the epoch; see deleteAccount
    this.channel = "BroadcastChannel" in globalThis ? new BroadcastChannel("switchboard-auth") : null;
    this.channel?.addEventListener("message", (event) => this.#onBroadcast(event.data));
  }

  get loggedIn() {
    return !!this.accessToken;
  }

  /** On page load: restore the session from the refresh cookie, if there may be one. */
  async restore() {
    if (localStorage.getItem(HINT_KEY) !== "1") return false;
    try {
      await this.refresh({ force: true });
      return true;
    } catch (error) {
      if (error.status === 401 || error.code === "account_disabled") localStorage.removeItem(HINT_KEY);
      if (error.code === "network_error") throw error;
      return false;
    }
  }

  async login(login, password) {
    const answer = await request("POST", "/auth/login", { login, password });
    this.#adopt(answer, { broadcast: true });
    localStorage.setItem(HINT_KEY, "1");
    return answer.user;
  }

  /**
   * Finishes a sign-in with a provider: the one-time code the callback put in the URL
   * fragment, exchanged (with this browser's HttpOnly binding cookie) for a session exactly
   * like a password login's (POST /auth/oauth/exchange).
   */
  async exchangeSignIn(code) {
    const answer = await request("POST", "/auth/oauth/exchange", { code });
    this.#adopt(answer, { broadcast: true });
    localStorage.setItem(HINT_KEY, "1");
    return answer.user;
  }

  /**
   * Starts a guest session (POST /auth/guest {displayName}): no email, no password; the
   * answer is a session like a login's (tokens, the refresh cookie, `user` with `guest: true`),
   * whose absolute lifetime no refresh extends (GUEST_SESSION_LIFETIME on the server).
   */
  async startGuest(displayName) {
    const answer = await request("POST", "/auth/guest", { displayName });
    this.#adopt(answer, { broadcast: true });
    localStorage.setItem(HINT_KEY, "1");
    return answer.user;
  }

  /**
   * A fresh access token from the refresh cookie (one request at a time, across tabs).
   * Without `force`, a token another tab refreshed while we waited is taken instead.
   */
  refresh({ force = false } = {}) {
    if (this.refreshing) return this.refreshing;
    const startGeneration = this.generation;
    const run = async () => {
      if (!force && this.generation !== startGeneration && this.expiresAt - Date.now() > 30000) return this.accessToken;
      const answer = await request("POST", "/auth/refresh");
      this.#adopt(answer, { broadcast: true });
      return this.accessToken;
    };
    const locked = navigator.locks ? navigator.locks.request("switchboard-refresh", run) : run();
    this.refreshing = locked.finally(() => {
      this.refreshing = null;
    });
    this.refreshing.catch((error) => {
      // 403 `account_disabled`: a server admin disabled the account (docs/openapi.yaml, /auth/refresh).
      if (error.code === "account_disabled") this.#ended("disabled");
      else if (error.status === 401) this.#ended(error.code === "refresh_token_reused" ? "reused" : "expired");
    });
    return this.refreshing;
  }

  /** A token good for at least `margin` ms (refreshing first if needed). */
  async freshToken(margin = 30000) {
    if (!this.accessToken) throw new APIError(401, "unauthorized", "Not logged in.");
    if (this.expiresAt - Date.now() < margin) await this.refresh();
    return this.accessToken;
  }

  /** A pushed `auth:token` from the socket: a fresh token for the same session. */
  applyPushedToken({ accessToken, expiresAt }) {
    if (!accessToken) return;
    this.#adopt({ accessToken, accessTokenExpiresAt: expiresAt, user: this.user }, { broadcast: true });
  }

  /** An authenticated API call; refreshes once on 401 token_expired / invalid_token. */
  async api(method, path, body) {
    const call = () => send(method, path, body, { Authorization: `Bearer ${this.accessToken}` });
    if (!this.accessToken) throw new APIError(401, "unauthorized", "Not logged in.");
    if (this.expiresAt - Date.now() < 5000) await this.refresh();
    try {
      return await call();
    } catch (error) {
      if (error.status === 401 && (error.code === "token_expired" || error.code === "invalid_token")) {
        await this.refresh();
        return call();
      }
      throw error;
    }
  }

  async logout({ everywhere = false } = {}) {
    // The server ends our sockets before it answers: that is not a revocation to chase.
    this.loggingOut = true;
    try {
      await this.api("POST", everywhere ? "/auth/logout-all" : "/auth/logout");
    } finally {
      this.loggingOut = false;
      this.channel?.postMessage({ type: "logout" });
      this.#clear();
      this.#emit("ended", { reason: "logout" });
    }
  }

  /**
   * Deletes the account (`DELETE /me`; `password` is null for an account without one). On
   * success the session ends here and in the other tabs ("ended", reason account_deleted);
   * on failure (wrong password, last owner of a room) it throws and nothing changes.
   *
   * The other tabs are told before the request too ("deleting"): the server leaves every
   * room (`room:member` left), closes the sockets and refuses the refresh token before it
   * answers, so another tab sees all of that before this one can say why. While a deletion
   * is under way (`accountDeleting`) they read those as the deletion, not as "no longer a
   * member" of a room or a disabled account.
   */
  async deleteAccount(password) {
    // The server ends our sockets before it answers: that is not a revocation to chase.
    this.loggingOut = true;
    this.#markDeleting(true);
    try {
      await this.api("DELETE", "/me", password == null ? {} : { password });
    } catch (error) {
      this.loggingOut = false;
      this.#markDeleting(false);
      throw error;
    }
    this.loggingOut = false;
    this.channel?.postMessage({ type: "account_deleted" });
    const guest = !!this.user?.guest;
    this.#clear();
    this.#emit("ended", { reason: "account_deleted", guest });
  }

  /** Whether this tab or another one of this user is deleting the account right now. */
  get accountDeleting() {
    return Date.now() < this.deletingUntil;
  }

  #markDeleting(on) {
    this.deletingUntil = on ? Date.now() + DELETION_WINDOW : 0;
    this.channel?.postMessage({ type: "deleting", userId: this.user?.id, on });
  }

  /**
   * The user's account changed (`GET /me`'s answer, or `{emailVerified: true}` after the
   * mailed link was opened): merged into `user`, told to the other tabs, "user" emitted.
   */
  updateUser(changes, { broadcast = true } = {}) {
    if (!this.user) return;
    Object.assign(this.user, changes);
    if (broadcast) this.channel?.postMessage({ type: "user", userId: this.user.id, changes });
    this.#emit("user", { user: this.user });
  }

  /** The server says this session is over (revoked socket, dead refresh token). */
  end(reason) {
    this.#ended(reason);
  }

  // ---- internals ----

  #adopt(answer, { broadcast }) {
    const previousUser = this.user;
    this.accessToken = answer.accessToken;
    this.expiresAt = Date.parse(answer.accessTokenExpiresAt) || Date.now() + 60000;
    if (answer.user) this.user = answer.user;
    this.generation++;
    this.#schedule();
    if (broadcast) {
      this.channel?.postMessage({ type: "token", accessToken: this.accessToken, accessTokenExpiresAt: answer.accessTokenExpiresAt, user: this.user });
    }
    this.#emit("token", { user: this.user, changedUser: previousUser && this.user && previousUser.id !== this.user.id });
  }

  #schedule() {
    clearTimeout(this.timer);
    const lifetime = this.expiresAt - Date.now();
    // Refresh when three quarters of the lifetime have passed (at least 5 s from now).
    const delay = Math.max(5000, lifetime - Math.max(30000, lifetime / 4));
    this.timer = setTimeout(() => {
      this.refresh().catch(() => {});
    }, delay);
  }

  #onBroadcast(message) {
    if (!message || typeof message !== "object") return;
    if (message.type === "token") {
      if (!this.accessToken && !message.user) return;
      if (this.user && message.user && this.user.id !== message.user.id) {
        // Another tab logged in as someone else: the shared cookie is theirs now.
        this.#clear({ keepHint: true });
        this.#emit("ended", { reason: "switched" });
        return;
      }
      this.#adopt(message, { broadcast: false });
    } else if (message.type === "user") {
      if (this.user && this.user.id === message.userId) this.updateUser(message.changes || {}, { broadcast: false });
    } else if (message.type === "logout") {
      if (!this.accessToken) return;
      this.#clear();
      this.#emit("ended", { reason: "logout_elsewhere" });
    } else if (message.type === "deleting") {
      if (this.user && this.user.id === message.userId) this.deletingUntil = message.on ? Date.now() + DELETION_WINDOW : 0;
    } else if (message.type === "account_deleted") {
      this.#ended("account_deleted");
    }
  }

  #ended(reason) {
    if (!this.accessToken) return;
    // A session that ends while the account is being deleted (its sockets closed, its refresh
    // token refused as a disabled account's) ends because of the deletion.
    if (this.accountDeleting) reason = "account_deleted";
    this.deletingUntil = 0;
    const guest = !!this.user?.guest;
    this.#clear();
    this.#emit("ended", { reason, guest });
  }

  #clear({ keepHint = false } = {}) {
    clearTimeout(this.timer);
    this.accessToken = null;
    this.expiresAt = 0;
    this.user = null;
    this.generation++;
    if (!keepHint) localStorage.removeItem(HINT_KEY);
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
