// Guests in the web app (issue 16; docs/openapi.yaml POST /auth/guest, rooms' allowGuests):
//   - "Continue as guest" on the login screen: a display name only, then a session like a
//     login's (Session.startGuest);
//   - what a guest cannot do, said up front instead of failing on submit (the server answers
//     403 `guest_not_allowed` to creating rooms, direct messages, joining by code, a password);
//   - the "guest" badge next to a guest's name (user summaries carry `guest: true`);
//   - the "Allow guests" setting of a public room: a checkbox on the new-room form
//     (room-forms.js) and the room's settings dialog here, for its owners and admins
//     (PATCH /rooms/{id} {allowGuests}).

import { h } from "./dom.js";
import { field, form, showError } from "./form.js";

/** Whether `user` (a Me or a UserSummary) is a guest. */
export function isGuest(user) {
  return !!user?.guest;
}

/** The small "guest" badge after a guest's name, or null for an account. */
export function guestBadge(user) {
  if (!isGuest(user)) return null;
  return h("span", { class: "guest-badge", title: "Guest: joined without an account" }, "guest");
}

/** What a guest may do, in one sentence (the sidebar's note, the home screen). */
export const GUEST_SCOPE = "You are a guest: you can join public rooms that allow guests and post there. Rooms of your own, private rooms and direct messages need an account.";

/**
 * Why a guest cannot `what` ("Guests cannot create rooms: …"), or null for an account.
 * Shown over a disabled form or as a disabled button's title.
 */
export function guestReason(session, what) {
  return isGuest(session.user) ? `Guests cannot ${what}. Log out and create an account to do that.` : null;
}

/**
 * The login screen's "Continue as guest" part: a form with the display name only.
 * onSignedIn: () => void, after the guest session is in place.
 */
export function guestSignIn({ session, onSignedIn }) {
  const f = form(
    "guest-form",
    [field({ label: "Display name", name: "displayName", autocomplete: "nickname", maxlength: 64, hint: "What others see next to your messages. Marked as a guest; gone when the guest session ends." })],
    "Continue as guest",
    async (values, el) => {
      try {
        await session.startGuest(values.displayName.trim());
        onSignedIn();
      } catch (error) {
        showError(el, error, {
          too_many_requests: error.retryAfter
            ? `Too many guests from this address. Try again in ${error.retryAfter} seconds, or log in.`
            : "Too many guests from this address. Try again later, or log in.",
        });
      }
    },
  );
  return h(
    "section",
    { class: "guest-sign-in", "aria-labelledby": "guest-title" },
    h("h2", { id: "guest-title" }, "No account?"),
    h("p", { class: "hint" }, "Continue as a guest to join the public rooms that allow guests, for a few hours."),
    f,
  );
}

/** The sidebar's note for a guest, in place of New room, Join by code and Message someone. */
export function guestSidebarNote() {
  return h("p", { class: "guest-note", id: "guest-note" }, GUEST_SCOPE);
}

/**
 * The "Allow guests" checkbox (name `allowGuests`) with its explanation; `checked` its
 * starting state. Used by the new-room form and the room settings dialog.
 */
export function allowGuestsField(checked = false) {
  const id = `allow-guests-${Math.random().toString(36).slice(2, 8)}`;
  return h(
    "div",
    { class: "field checkbox-field" },
    h(
      "label",
      { class: "choice", for: id },
      h("input", { type: "checkbox", name: "allowGuests", id, checked, "aria-describedby": `${id}-hint` }),
      " Allow guests",
    ),
    h("p", { class: "hint", id: `${id}-hint` }, "People without an account may join and post, marked as guests. Turning it off keeps the guests already in."),
  );
}

/** Whether I may change `room`'s guest setting: a public room I own or administer. */
export function canSetGuests(room) {
  return room.kind === "public" && (room.role === "owner" || room.role === "admin");
}

/**
 * The room header's "Settings" button (public rooms, owners and admins): a modal dialog with
 * "Allow guests", saved with PATCH /rooms/{id}. onSaved: (answer) => void (the room as the
 * server now has it).
 */
export function roomSettingsButton({ session, room, onSaved }) {
  return h("button", { type: "button", class: "secondary", id: "room-settings", onclick: () => openRoomSettings({ session, room, onSaved }) }, "Settings");
}

function openRoomSettings({ session, room, onSaved }) {
  const returnFocus = document.activeElement;
  const cancel = h("button", { type: "button", id: "room-settings-cancel", onclick: () => dialog.close() }, "Cancel");
  const f = form(
    "room-settings-form",
    [allowGuestsField(!!room.allowGuests)],
    "Save",
    async (values, el) => {
      try {
        const answer = await session.api("PATCH", `/rooms/${room.id}`, { allowGuests: values.allowGuests === "on" });
        onSaved(answer);
        dialog.close();
      } catch (error) {
        showError(el, error);
      }
    },
    [cancel],
  );
  const dialog = h(
    "dialog",
    { class: "dialog", id: "room-settings-dialog", "aria-labelledby": "room-settings-title" },
    h("h2", { id: "room-settings-title" }, "Room settings"),
    f,
  );
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (returnFocus?.isConnected) returnFocus.focus?.();
  });
  document.body.append(dialog);
  dialog.showModal();
  f.querySelector("input[name=allowGuests]").focus();
}

/** A sentence for the timeline when `allowGuests` changed. */
export function guestSettingLine(allowGuests) {
  return allowGuests ? "Guests may now join this room" : "Guests may no longer join this room";
}
