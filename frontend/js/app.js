// The Switchboard web app: routing, the account screens, and the shell around the chat.
//
// Routes: "#/login", "#/register", "#/check-email", "#/forgot", and when logged in
// "#/rooms", "#/rooms/<id>", "#/new-room", "#/discover", "#/join", "#/direct",
// "#/sessions", "#/settings", "#/search", and for server admins "#/admin". The mailed links are real paths (/verify-email?token=…,
// /reset-password?token=…) that the server answers with this same page.

import { Session, request } from "./api.js";
import { $, append, clear, h, messageFor } from "./dom.js";
import { field, form, showError } from "./form.js";
import { ChatApp } from "./chat.js";
import { handleOAuthRoute, providerButtons } from "./oauth.js";
import { guestBadge, guestSignIn } from "./guest.js";

const session = new Session();
const main = $("#main");
const accountNav = $("#account");
const noticeBox = $("#notice");
let chat = null;
let config = { devMailbox: false, requireVerifiedEmail: true }; // /app-config.json
let lastRegisteredEmail = "";
let flash = null; // a message for the next screen (e.g. "your session ended")

// ---------- routing ----------

function currentRoute() {
  const path = location.pathname;
  if (path !== "/" && location.hash.length > 1) {
    // An in-app link followed from a mailed-link page: back to the app's own path.
    history.replaceState(null, "", "/" + location.hash);
  } else if (path === "/verify-email" || path === "/reset-password") return { name: path.slice(1), params: new URLSearchParams(location.search) };
  const hash = location.hash.replace(/^#\/?/, "");
  const [name = "", ...rest] = hash.split("/");
  return { name: name || "", args: rest };
}

/** Goes to an in-app route; from a mailed-link page this also drops the path and token. */
export function navigate(hash) {
  if (noticeHold && noticeFresh) noticeCarry = true;
  if (location.pathname !== "/" || location.search) {
    history.replaceState(null, "", "/" + hash);
    render();
  } else if (location.hash === hash) {
    render();
  } else {
    location.hash = hash;
  }
}

function setTitle(text) {
  document.title = text ? `${text} · Switchboard` : "Switchboard";
}

/** Shows a screen: replaces the main content and moves focus to its heading. */
function show(title, ...children) {
  setTitle(title);
  if (chat) {
    chat.stop();
    chat = null;
  }
  clear(main);
  main.className = "auth-main";
  const heading = h("h1", { tabindex: "-1" }, title);
  const card = h("section", { class: "card", "aria-labelledby": "screen-title" }, heading, ...children);
  heading.id = "screen-title";
  main.append(card);
  heading.focus();
  return card;
}

// A notice belongs to the screen it was raised on, unless the app navigates right after
// raising it ("You left the room." on the room list): then it is for that next screen. So
// a notice is carried over a change of route made by navigate() in the same task that
// raised it, and goes away on any other change (the user leaving the screen it was about,
// even through a later navigate()).
let noticeHold = false; // a notice was raised on this screen
let noticeFresh = false; // ...in the task running now
let noticeCarry = false; // ...and navigate() was called in that task: keep it on the next screen
let renderedRoute = null;

function notice(text, kind = "info") {
  noticeHold = !!text;
  noticeCarry = false;
  noticeFresh = !!text;
  if (text) setTimeout(() => { noticeFresh = false; }, 0);
  noticeBox.textContent = text;
  noticeBox.className = `notice ${kind}`;
  noticeBox.hidden = !text;
}

function renderAccountNav() {
  clear(accountNav);
  if (!session.loggedIn) return;
  // dom.js append: the absent parts (null) are skipped, never written as "null".
  append(accountNav, [
    h("a", { href: "#/settings", class: "who nav-link", id: "nav-settings", title: session.user.guest ? "Settings (guest)" : `Settings (${session.user.email})`, dir: "auto" }, session.user.displayName || session.user.username),
    guestBadge(session.user),
    // Server administrators (GET /me's `serverRole`) get the admin screen (admin.js).
    session.user.serverRole === "admin" ? h("a", { href: "#/admin", class: "nav-link", id: "nav-admin" }, "Admin") : null,
    h("a", { href: "#/sessions", class: "nav-link", id: "nav-sessions" }, "Sessions"),
    h("button", { type: "button", class: "link-button", id: "logout-button", onclick: logout }, "Log out"),
  ]);
}

async function logout() {
  try {
    await session.logout();
  } catch {
    // The session is cleared locally either way.
  }
}

session.addEventListener("ended", (event) => {
  const reason = event.detail?.reason;
  if (chat) {
    chat.stop();
    chat = null;
  }
  renderAccountNav();
  const messages = {
    logout: "You are logged out.",
    logout_elsewhere: "You logged out in another tab.",
    switched: "Another tab logged in as someone else.",
    revoked: "Your session has ended. Log in again.",
    expired: "Your session has ended. Log in again.",
    reused: "Your session was ended for safety. Log in again.",
    disabled: "Your account was disabled by an administrator.",
    account_deleted: "Your account was deleted. A confirmation was mailed to you.",
  };
  // A guest has no address to mail a confirmation to (and nothing to log in to again).
  if (reason === "account_deleted" && event.detail?.guest) messages.account_deleted = "Your guest session was deleted, and your guest name with it.";
  flash = messages[reason] || "Your session has ended. Log in again.";
  navigate("#/login");
});

session.addEventListener("user", () => renderAccountNav());

session.addEventListener("token", (event) => {
  if (event.detail?.changedUser) location.reload();
  renderAccountNav();
});

function render() {
  const key = location.pathname + location.hash;
  if (key !== renderedRoute) {
    renderedRoute = key;
    if (noticeHold && noticeCarry) noticeHold = noticeCarry = false;
    else notice("");
  }
  const route = currentRoute();
  // The sign-in provider's way back (#/oauth/<code>, #/oauth-linked/…, #/oauth-error/…).
  if (handleOAuthRoute(route, { session, navigate, notice, setFlash: (text) => { flash = text; } })) return;
  switch (route.name) {
    case "verify-email":
      return verifyEmailScreen(route.params.get("token"));
    case "reset-password":
      return resetPasswordScreen(route.params.get("token"));
    case "register":
      return session.loggedIn ? navigate("#/rooms") : registerScreen();
    case "check-email":
      return checkEmailScreen();
    case "forgot":
      return forgotScreen();
    case "login":
      return session.loggedIn ? navigate("#/rooms") : loginScreen();
    default:
      if (!session.loggedIn) return navigate("#/login");
      return renderChat(route);
  }
}

function renderChat(route) {
  if (!chat) {
    clear(main);
    main.className = "chat-main";
    chat = new ChatApp(session, { root: main, navigate, setTitle, notice, requireVerifiedEmail: config.requireVerifiedEmail !== false });
    chat.start();
  }
  chat.route(route.name || "rooms", route.args || []);
}

// ---------- account screens ----------

function flashMessage() {
  if (!flash) return null;
  const p = h("p", { class: "flash", role: "status" }, flash);
  flash = null;
  return p;
}

function loginScreen() {
  const f = form(
    "login-form",
    [
      field({ label: "Username or email", name: "login", autocomplete: "username" }),
      field({ label: "Password", name: "password", type: "password", autocomplete: "current-password" }),
    ],
    "Log in",
    async (values, el) => {
      try {
        await session.login(values.login.trim(), values.password);
        renderAccountNav();
        navigate("#/rooms");
      } catch (error) {
        showError(el, error, {
          invalid_credentials: "The username, email or password is wrong.",
        });
      }
    },
  );
  show(
    "Log in",
    flashMessage(),
    f,
    providerButtons(),
    h("p", { class: "alt" }, h("a", { href: "#/forgot", id: "forgot-link" }, "Forgot your password?")),
    h("p", { class: "alt" }, "New here? ", h("a", { href: "#/register", id: "register-link" }, "Create an account")),
    guestSignIn({
      session,
      onSignedIn: () => {
        renderAccountNav();
        navigate("#/discover");
      },
    }),
  );
}

function registerScreen() {
  const f = form(
    "register-form",
    [
      field({ label: "Email", name: "email", type: "email", autocomplete: "email" }),
      field({ label: "Username", name: "username", autocomplete: "username", hint: "3–32 characters: a–z, 0–9, _ . -", minlength: 3, maxlength: 32 }),
      field({ label: "Display name (optional)", name: "displayName", autocomplete: "name", required: false, maxlength: 64 }),
      field({ label: "Password", name: "password", type: "password", autocomplete: "new-password", hint: "At least 8 characters.", minlength: 8, maxlength: 128 }),
    ],
    "Create account",
    async (values, el) => {
      const body = { email: values.email.trim(), username: values.username.trim(), password: values.password };
      if (values.displayName.trim()) body.displayName = values.displayName.trim();
      try {
        await request("POST", "/auth/register", body);
        lastRegisteredEmail = body.email;
        navigate("#/check-email");
      } catch (error) {
        showError(el, error);
      }
    },
  );
  show("Create an account", f, h("p", { class: "alt" }, "Have an account? ", h("a", { href: "#/login" }, "Log in")));
}

function devMailboxLink() {
  return config.devMailbox
    ? h("p", { class: "dev" }, "Development server: mail is not sent. ", h("a", { href: "/dev/mailbox", id: "dev-mailbox-link" }, "Open the development mailbox"), ".")
    : null;
}

function checkEmailScreen() {
  show(
    "Check your email",
    h(
      "p",
      { id: "check-email-text" },
      lastRegisteredEmail ? ["We sent a link to ", h("strong", {}, lastRegisteredEmail), ". Open it to verify your address."] : "We sent you a link. Open it to verify your address.",
    ),
    h("p", {}, "You can log in now; creating rooms and posting need a verified address."),
    devMailboxLink(),
    h("p", { class: "alt" }, h("a", { href: "#/login", id: "to-login" }, "Go to log in")),
  );
}

async function verifyEmailScreen(token) {
  // The token is read once; keep it out of the address bar and history.
  history.replaceState(null, "", "/verify-email");
  const status = h("p", { role: "status", id: "verify-status" }, "Verifying your email address…");
  const card = show("Verify email", status);
  if (!token) {
    status.textContent = "This link has no token. Open the link from the email again.";
    return;
  }
  try {
    const answer = await request("POST", "/auth/verify-email", { token });
    status.textContent = answer?.message || "Your email address is verified.";
    status.classList.add("success");
    status.dataset.state = "verified";
    if (session.loggedIn) session.updateUser({ emailVerified: true }); // other tabs enable posting
    card.append(
      h("p", {}, h("a", { href: session.loggedIn ? "#/rooms" : "#/login", class: "button primary", id: "verified-continue" }, session.loggedIn ? "Go to your rooms" : "Log in")),
    );
  } catch (error) {
    status.textContent = messageFor(error);
    status.classList.add("error");
    status.dataset.state = "failed";
    card.append(
      h(
        "p",
        {},
        ["email_token_expired", "email_token_superseded", "email_token_invalid"].includes(error.code)
          ? "Log in and ask for a new link from the banner at the top of your rooms."
          : null,
      ),
      h("p", {}, h("a", { href: session.loggedIn ? "#/rooms" : "#/login" }, session.loggedIn ? "Back to your rooms" : "Log in")),
    );
  }
}

const DEAD_RESET_LINK = {
  email_token_used: "This link was already used. Ask for a new one if you still need it.",
  email_token_expired: "This link has expired. Ask for a new one below.",
  email_token_superseded: "A newer link was sent: use the one in the most recent email, or ask for a new one below.",
  email_token_invalid: "This link is not valid. Open the link from the email again, or ask for a new one below.",
};

async function resetPasswordScreen(token) {
  history.replaceState(null, "", "/reset-password");
  if (!token) {
    show("Reset password", h("p", { class: "error", role: "alert" }, "This link has no token. Open the link from the email again."));
    return;
  }
  // Is the link still good? Asked before the form is shown (the check does not use it up),
  // so nobody types a new password twice for a dead link. If the check itself fails (offline,
  // too many), the form is shown: setting the password checks the link again.
  show("Reset password", h("p", { role: "status", id: "reset-checking" }, "Checking your link…"));
  try {
    await request("POST", "/auth/reset-password/check", { token });
  } catch (error) {
    if (DEAD_RESET_LINK[error.code]) {
      show(
        "This link cannot be used",
        h("p", { class: "error", role: "alert", id: "reset-link-dead", "data-code": error.code }, DEAD_RESET_LINK[error.code]),
        h("p", {}, h("a", { href: "#/forgot", class: "button primary", id: "reset-ask-again" }, "Ask for a new link")),
        h("p", { class: "alt" }, h("a", { href: "#/login" }, "Back to log in")),
      );
      return;
    }
  }
  if (location.pathname !== "/reset-password") return; // the person moved on meanwhile
  const f = form(
    "reset-form",
    [
      field({ label: "New password", name: "password", type: "password", autocomplete: "new-password", hint: "At least 8 characters.", minlength: 8, maxlength: 128 }),
      field({ label: "Repeat the new password", name: "confirm", type: "password", autocomplete: "new-password", minlength: 8, maxlength: 128 }),
    ],
    "Set new password",
    async (values, el) => {
      if (values.password !== values.confirm) {
        showError(el, { code: "mismatch", message: "The two passwords differ.", fields: { confirm: "does not match the new password" } });
        return;
      }
      try {
        const answer = await request("POST", "/auth/reset-password", { token, password: values.password });
        const card = show("Password changed", h("p", { role: "status", id: "reset-done", class: "success" }, answer?.message || "Your password was changed."));
        card.append(
          h("p", {}, "Every session of your account was logged out."),
          h("p", {}, h("a", { href: "#/login", class: "button primary", id: "reset-login" }, "Log in")),
        );
        if (session.loggedIn) session.end("revoked");
      } catch (error) {
        showError(el, error, DEAD_RESET_LINK);
      }
    },
  );
  show("Choose a new password", f, h("p", { class: "alt" }, h("a", { href: "#/forgot" }, "Ask for a new link")));
}

function forgotScreen() {
  const f = form(
    "forgot-form",
    [field({ label: "Email", name: "email", type: "email", autocomplete: "email" })],
    "Send reset link",
    async (values, el) => {
      try {
        const answer = await request("POST", "/auth/forgot-password", { email: values.email.trim() });
        show(
          "Check your email",
          h("p", { role: "status", id: "forgot-done" }, answer?.message || "If an account uses that address, a link is on its way."),
          devMailboxLink(),
          h("p", { class: "alt" }, h("a", { href: "#/login" }, "Back to log in")),
        );
      } catch (error) {
        showError(el, error);
      }
    },
  );
  show("Reset your password", h("p", {}, "We will email you a link to choose a new password."), f, h("p", { class: "alt" }, h("a", { href: "#/login" }, "Back to log in")));
}

// ---------- start ----------

async function loadConfig() {
  try {
    const response = await fetch("/app-config.json", { cache: "no-store" });
    if (response.ok) config = { ...config, ...(await response.json()) };
  } catch {
    // Defaults are fine.
  }
}

async function start() {
  window.addEventListener("hashchange", render);
  const route = currentRoute();
  const configLoaded = loadConfig();
  if (route.name !== "reset-password") {
    try {
      await session.restore();
    } catch (error) {
      flash = messageFor(error);
    }
  }
  await configLoaded;
  renderAccountNav();
  document.body.classList.remove("loading");
  render();
}

start();
