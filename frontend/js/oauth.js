// Sign-in with a provider (GitHub, any OpenID Connect provider): the buttons of the login
// screen, the routes the server's callback sends the browser to, and the "Sign-in providers"
// part of settings (link, unlink).
//
// The flow is the server's (docs/openapi.yaml, /api/auth/oauth/*): a button is a plain link
// to /api/auth/oauth/<name>/start, which sends the browser to the provider; the provider sends
// it back to the server's callback, which answers with a redirect into this app:
//   #/oauth/<one-time code>     signed in: POST the code to /auth/oauth/exchange for a session
//   #/oauth-linked/<provider>  linked to the logged-in account (from settings)
//   #/oauth-error/<reason>     refused (messages below)
// The code travels in the fragment, which no request carries; it is taken out of the
// address bar before anything else happens, works once, within two minutes, and only with
// this browser's HttpOnly cookie.

import { request } from "./api.js";
import { h, messageFor } from "./dom.js";
import { confirmDialog } from "./dialog.js";

const FAILURES = {
  access_denied: "Sign-in was cancelled at the provider.",
  invalid_state: "That sign-in could not be finished (it expired, was already used, or started in another browser). Try again.",
  provider_error: "The sign-in provider could not be reached or refused the sign-in. Try again later.",
  invalid_id_token: "The sign-in provider's answer could not be verified. Try again later.",
  email_in_use: "An account with this email address exists. Log in with your password, then link the provider in Settings.",
  identity_in_use: "That provider account is already linked to another Switchboard account.",
  email_missing: "The provider did not share an email address, which a new account needs.",
  provider_email_unverified: "The provider has not verified your email address. Verify it there, or register with a password.",
  account_disabled: "This account is disabled.",
  internal_error: "Something went wrong on the server. Try again.",
};

/** The message for a callback's failure code. */
export function failureMessage(code) {
  return FAILURES[code] || "Sign-in did not finish. Try again.";
}

let providersCache = null;

/** The configured providers ([] when none or unreachable); asked once per page. */
export async function providers() {
  if (!providersCache) {
    providersCache = request("GET", "/auth/oauth/providers")
      .then((answer) => answer.providers || [])
      .catch(() => {
        providersCache = null;
        return [];
      });
  }
  return providersCache;
}

/** The login screen's buttons, one per provider; filled in when the list arrives. */
export function providerButtons() {
  const box = h("div", { class: "oauth-buttons", id: "oauth-buttons", hidden: true });
  providers().then((list) => {
    if (list.length === 0) return;
    box.append(
      h("p", { class: "oauth-or muted" }, "or"),
      ...list.map((p) => h("a", { class: "button oauth-button", href: p.startURL, id: `oauth-${p.name}` }, `Continue with ${p.displayName}`)),
    );
    box.hidden = false;
  });
  return box;
}

/**
 * Handles the callback's routes. `ctx`: {session, navigate, setFlash, notice}. Returns true
 * when the route was one of them.
 */
export function handleOAuthRoute(route, { session, navigate, setFlash, notice }) {
  const [value = ""] = route.args || [];
  switch (route.name) {
    case "oauth": {
      // Out of the address bar and history first: the code is for one use.
      history.replaceState(null, "", "/#/login");
      session
        .exchangeSignIn(decodeURIComponent(value))
        .then(() => navigate("#/rooms"))
        .catch((error) => {
          setFlash(error.code === "oauth_code_invalid" ? failureMessage("invalid_state") : messageFor(error));
          navigate("#/login");
        });
      return true;
    }
    case "oauth-linked":
      history.replaceState(null, "", "/#/settings");
      notice(`${value ? providerLabel(value) : "The provider"} is linked: you can sign in with it.`);
      navigate("#/settings");
      return true;
    case "oauth-error":
      history.replaceState(null, "", session.loggedIn ? "/#/settings" : "/#/login");
      if (session.loggedIn) {
        notice(failureMessage(value), "error");
        navigate("#/settings");
      } else {
        setFlash(failureMessage(value));
        navigate("#/login");
      }
      return true;
    default:
      return false;
  }
}

function providerLabel(name) {
  const known = (providersCache && Array.isArray(providersCache) ? providersCache : []).find((p) => p.name === name);
  return known ? known.displayName : name;
}

/**
 * The settings section: linked identities with Unlink (refused by the server when it is the
 * last way in), and a Link button for each provider not linked yet.
 */
export function identitiesSection({ session }) {
  const list = h("ul", { class: "identities", id: "identities" });
  const linkRow = h("p", { class: "button-row", id: "oauth-link-buttons" });
  const status = h("p", { role: "status", id: "identities-status" });
  const section = h(
    "section",
    { "aria-labelledby": "settings-identities", id: "identities-section", hidden: true },
    h("h3", { id: "settings-identities" }, "Sign-in providers"),
    list,
    linkRow,
    status,
  );

  async function load() {
    const [all, mine] = await Promise.all([providers(), session.api("GET", "/me/identities")]);
    if (all.length === 0 && mine.identities.length === 0) return;
    section.hidden = false;
    list.replaceChildren(
      ...mine.identities.map((identity) =>
        h(
          "li",
          { "data-provider": identity.provider },
          h("span", { dir: "auto" }, identity.displayName, identity.email ? ` (${identity.email})` : ""),
          " ",
          h("button", { type: "button", class: "link-button", onclick: () => unlink(identity, mine) }, "Unlink"),
        ),
      ),
    );
    if (mine.identities.length === 0) list.replaceChildren(h("li", { class: "muted" }, "None linked."));
    const linked = new Set(mine.identities.map((i) => i.provider));
    linkRow.replaceChildren(
      ...all
        .filter((p) => !linked.has(p.name))
        .map((p) => h("button", { type: "button", id: `oauth-link-${p.name}`, onclick: (event) => link(p, event.currentTarget) }, `Link ${p.displayName}`)),
    );
  }

  async function link(provider, button) {
    button.disabled = true;
    status.textContent = "";
    try {
      const { authorizationURL } = await session.api("POST", `/auth/oauth/${encodeURIComponent(provider.name)}/link`);
      location.assign(authorizationURL);
    } catch (error) {
      status.textContent = messageFor(error);
      button.disabled = false;
    }
  }

  async function unlink(identity, mine) {
    const others = mine.identities.length - 1;
    if (!mine.hasPassword && others === 0) {
      status.textContent = "This is your only way to sign in. Set a password (log out, then “Forgot your password?”) or link another provider first.";
      return;
    }
    if (!(await confirmDialog({ title: `Unlink ${identity.displayName}?`, text: "You will no longer be able to sign in with it.", confirmLabel: "Unlink", danger: true }))) return;
    try {
      await session.api("DELETE", `/me/identities/${identity.id}`);
      status.textContent = `${identity.displayName} is unlinked.`;
      await load();
    } catch (error) {
      status.textContent = messageFor(error);
    }
  }

  load().catch((error) => {
    section.hidden = false;
    status.textContent = messageFor(error);
  });
  return section;
}
