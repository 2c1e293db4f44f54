// The settings screen: the display name (PATCH /me), the password (POST /me/password, which
// logs out every other session), and logging out the other sessions (DELETE /sessions/{id}
// for each one that is not this browser), and deleting the account (DELETE /me, after our
// confirm dialog: messages stay under "Deleted user", sessions end, a confirmation is mailed).

import { confirmDialog } from "./dialog.js";
import { h, messageFor } from "./dom.js";
import { field, form, showError } from "./form.js";
import { identitiesSection } from "./oauth.js";

/** context: {session, setContent} (see room-forms.js). */
export function showSettings({ session, setContent }) {
  const user = session.user;
  const nameDone = h("p", { class: "success", role: "status", id: "display-name-done" });
  const nameForm = form(
    "display-name-form",
    [field({ label: "Display name", name: "displayName", autocomplete: "name", maxlength: 64, required: false, value: user?.displayName || "", hint: "What others see next to your messages. Left empty, your username." })],
    "Save name",
    async (values, el) => {
      nameDone.textContent = "";
      try {
        // Optional, as at sign-up: an empty name is the username (what the server stores
        // for a registration without one, POST /auth/register in docs/openapi.yaml).
        const me = await session.api("PATCH", "/me", { displayName: values.displayName.trim() || user.username });
        session.updateUser(me);
        nameDone.textContent = "Saved.";
      } catch (error) {
        showError(el, error);
      }
    },
  );
  // A "Saved." from before goes as soon as the field changes: it must not sit beside a new error.
  nameForm.addEventListener("input", () => { nameDone.textContent = ""; });
  const passwordDone = h("p", { class: "success", role: "status", id: "password-done" });
  const passwordForm = form(
    "password-form",
    [
      field({ label: "Current password", name: "currentPassword", type: "password", autocomplete: "current-password" }),
      field({ label: "New password", name: "newPassword", type: "password", autocomplete: "new-password", minlength: 8, maxlength: 128, hint: "At least 8 characters. Your other sessions will be logged out." }),
    ],
    "Change password",
    async (values, el) => {
      passwordDone.textContent = "";
      try {
        await session.api("POST", "/me/password", { currentPassword: values.currentPassword, newPassword: values.newPassword });
        el.reset();
        passwordDone.textContent = "Your password was changed; your other sessions were logged out.";
      } catch (error) {
        showError(el, error, { invalid_current_password: "The current password is wrong." });
      }
    },
  );
  passwordForm.addEventListener("input", () => { passwordDone.textContent = ""; });
  const othersStatus = h("p", { role: "status", id: "others-done" });
  const others = h(
    "button",
    {
      type: "button",
      class: "danger",
      id: "logout-others",
      onclick: async () => {
        if (!(await confirmDialog({ title: "Log out your other sessions?", text: "Every other device and browser will need your password again. This one stays logged in.", confirmLabel: "Log out others", danger: true }))) return;
        others.disabled = true;
        try {
          const { sessions } = await session.api("GET", "/sessions");
          const rest = sessions.filter((s) => !s.current);
          for (const s of rest) await session.api("DELETE", `/sessions/${encodeURIComponent(s.id)}`);
          othersStatus.textContent = rest.length === 0 ? "No other sessions were logged in." : `Logged out ${rest.length} other session${rest.length === 1 ? "" : "s"}.`;
        } catch (error) {
          othersStatus.textContent = messageFor(error);
        } finally {
          others.disabled = false;
        }
      },
    },
    "Log out other sessions",
  );
  // An account made by a sign-in provider has no password: the server then asks for none.
  const hasPassword = !user?.guest;
  const deleteForm = form(
    "delete-account-form",
    hasPassword ? [field({ label: "Your password", name: "password", type: "password", autocomplete: "current-password", required: false, hint: "To confirm it is you (leave empty if you only sign in with a provider)." })] : [],
    "Delete my account",
    async (values, el) => {
      const ok = await confirmDialog({
        title: user?.guest ? "Delete your guest session?" : "Delete your account?",
        text: `${user?.guest ? "Your guest name is removed and this session ends" : "Your name, email address and password are removed and every session is logged out"}. Your messages stay in their rooms as \u201cDeleted user\u201d. This cannot be undone.`,
        confirmLabel: "Delete my account",
        danger: true,
      });
      if (!ok) return;
      try {
        await session.deleteAccount(hasPassword && values.password ? values.password : null);
      } catch (error) {
        const rooms = Object.values(error?.fields || {}).length;
        showError(el, error, {
          invalid_current_password: "The password is wrong.",
          last_owner: `You are the last owner of ${rooms === 1 ? "a room" : `${rooms} rooms`} with other members: make someone else owner first (member menu, or /role @name owner).`,
        });
      }
    },
  );
  deleteForm.querySelector("button[type=submit]").className = "danger";
  setContent(
    "Settings",
    h("section", { "aria-labelledby": "settings-profile" }, h("h3", { id: "settings-profile" }, "Profile"), nameForm, nameDone),
    // A guest has no password nor sign-in identities (POST /me/password answers guest_not_allowed).
    ...(user?.guest
      ? [h("section", { "aria-labelledby": "settings-password" }, h("h3", { id: "settings-password" }, "Password"), h("p", { class: "blocked-note", id: "guest-password-note" }, "Guests have no password: this guest session ends by itself after a few hours. Create an account to keep a name and your rooms."))]
      : [h("section", { "aria-labelledby": "settings-password" }, h("h3", { id: "settings-password" }, "Password"), passwordForm, passwordDone), identitiesSection({ session })]),
    h(
      "section",
      { "aria-labelledby": "settings-sessions" },
      h("h3", { id: "settings-sessions" }, "Sessions"),
      h("p", {}, h("a", { href: "#/sessions" }, "See where you are logged in"), "."),
      h("p", {}, others),
      othersStatus,
    ),
    h(
      "section",
      { "aria-labelledby": "settings-delete" },
      h("h3", { id: "settings-delete" }, "Delete account"),
      h("p", {}, user?.guest ? "Removes your guest name for good and ends this session. Your messages stay, shown as \u201cDeleted user\u201d." : "Removes your name, email address and password for good. Your messages stay, shown as \u201cDeleted user\u201d."),
      deleteForm,
    ),
  );
}
