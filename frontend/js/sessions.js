// The sessions screen: where the account is logged in (GET /sessions), logging one of
// them out (DELETE /sessions/{id}), and logging out everywhere.

import { confirmDialog } from "./dialog.js";
import { clear, formatTime, h, messageFor } from "./dom.js";

/** context: {session, setContent} (see room-forms.js). */
export async function showSessions({ session, setContent }) {
  const list = h("ul", { class: "sessions", id: "sessions-list" });
  const status = h("p", { class: "form-error", role: "alert", hidden: true });
  const fail = (error) => {
    status.textContent = messageFor(error);
    status.hidden = false;
  };
  const everywhere = h(
    "button",
    {
      type: "button",
      class: "danger",
      id: "logout-everywhere",
      onclick: async () => {
        const ok = await confirmDialog({ title: "Log out everywhere?", text: "Every device where your account is logged in, this one included, will need your password again.", confirmLabel: "Log out everywhere", danger: true });
        if (!ok) return;
        everywhere.disabled = true;
        try {
          await session.logout({ everywhere: true });
        } catch (error) {
          everywhere.disabled = false;
          fail(error);
        }
      },
    },
    "Log out everywhere",
  );
  setContent("Sessions", h("p", {}, "Where your account is logged in."), status, list, h("p", {}, everywhere));
  const revoke = async (id) => {
    try {
      await session.api("DELETE", `/sessions/${encodeURIComponent(id)}`);
      load();
    } catch (error) {
      fail(error);
    }
  };
  const load = async () => {
    try {
      const answer = await session.api("GET", "/sessions");
      clear(list);
      for (const s of answer.sessions) list.append(sessionItem(s, revoke));
    } catch (error) {
      fail(error);
    }
  };
  await load();
}

function sessionItem(s, revoke) {
  const action = s.current ? h("span", { class: "current" }, "This browser") : h("button", { type: "button", class: "secondary", onclick: () => revoke(s.id) }, "Log out");
  return h(
    "li",
    { "data-session-id": s.id, class: s.current ? "current" : null },
    h(
      "div",
      {},
      h("strong", {}, describeAgent(s.userAgent)),
      h("span", { class: "muted" }, ` · ${s.ip || "unknown address"}`),
      h("br"),
      // This browser is in use right now; its stored lastUsedAt moves only when it refreshes its token.
      // Each time stays whole on its line (class "when": no wrapping inside it).
      h("span", { class: "muted" }, "Signed in ", h("span", { class: "when" }, formatTime(s.createdAt)), " · ", s.current ? "Active now" : ["last active ", h("span", { class: "when" }, formatTime(s.lastUsedAt))]),
    ),
    action,
  );
}

/** "Firefox on Linux" and the like, from a User-Agent header. */
function describeAgent(agent) {
  if (!agent) return "Unknown device";
  const browser = /Edg\//.test(agent) ? "Edge" : /Firefox\//.test(agent) ? "Firefox" : /Chrom(e|ium)\//.test(agent) ? "Chromium" : /Safari\//.test(agent) ? "Safari" : /python/i.test(agent) ? "Script" : "Browser";
  const os = /Android/.test(agent) ? "Android" : /iPhone|iPad/.test(agent) ? "iOS" : /Mac OS X/.test(agent) ? "macOS" : /Windows/.test(agent) ? "Windows" : /Linux/.test(agent) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}
