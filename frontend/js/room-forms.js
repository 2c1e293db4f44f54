// The screens that get the user into a room: create one (then, for a private room, its
// join code), discover public rooms, join by code, start a direct message. Each is a
// function of a screen context:
//   session     the Session (REST calls)
//   rooms       the RoomList (a room created or joined is added to it)
//   navigate    (hash) => void
//   notice      (text, kind) => void
//   setContent  (title, ...nodes) => the content pane shows them under the title

import { clear, h, messageFor } from "./dom.js";
import { field, form, showError } from "./form.js";
import { allowGuestsField, guestBadge } from "./guest.js";

export function showCreateRoom(context) {
  const { session, rooms, navigate, setContent } = context;
  const visibility = h(
    "fieldset",
    { class: "field" },
    h("legend", {}, "Who can join"),
    h("label", { class: "choice" }, h("input", { type: "radio", name: "kind", value: "public", checked: true, id: "kind-public" }), " Public: anyone can find and join it"),
    h("label", { class: "choice" }, h("input", { type: "radio", name: "kind", value: "private", id: "kind-private" }), " Private: people join with a code"),
    h("p", { class: "field-error", hidden: true }),
  );
  const password = field({ label: "Room password (optional)", name: "password", type: "password", autocomplete: "new-password", required: false, maxlength: 128, hint: "Asked together with the code." });
  password.hidden = true;
  // Public rooms only (the server answers 422 to allowGuests on another kind).
  const guests = allowGuestsField(false);
  visibility.addEventListener("change", () => {
    const kind = visibility.querySelector("input:checked")?.value;
    password.hidden = kind !== "private";
    guests.hidden = kind !== "public";
  });
  const fields = [field({ label: "Name", name: "name", maxlength: 64, autocomplete: "off" }), field({ label: "Topic (optional)", name: "topic", required: false, maxlength: 256, autocomplete: "off" }), visibility, guests, password];
  const f = form("create-room-form", fields, "Create room", async (values, el) => {
    const body = { name: values.name.trim(), kind: values.kind };
    if (values.topic?.trim()) body.topic = values.topic.trim();
    if (values.kind === "private" && values.password) body.password = values.password;
    if (values.kind === "public" && values.allowGuests === "on") body.allowGuests = true;
    try {
      const room = await session.api("POST", "/rooms", body);
      rooms.put(room);
      navigate(room.kind === "private" ? `#/room-created/${room.id}` : `#/rooms/${room.id}`);
    } catch (error) {
      showError(el, error, { email_unverified: "Verify your email address first: open the link we mailed you." });
    }
  });
  setContent("New room", blockedNote(f, context.guest?.("create rooms") || context.unverified?.()), f);
}

/**
 * When `reason` is set (e.g. an unverified address): the form's submit button is off and
 * a note saying why is returned, to show above the form. Otherwise null.
 */
function blockedNote(formEl, reason) {
  if (!reason) return null;
  const button = formEl.querySelector("button[type=submit]");
  button.disabled = true;
  button.setAttribute("aria-describedby", "blocked-note");
  return h("p", { class: "blocked-note", id: "blocked-note" }, reason);
}

/** After creating a private room: its join code, to pass on. */
export function showRoomCreated({ rooms, navigate, setContent }, roomId) {
  const room = rooms.get(roomId);
  if (!room) return navigate("#/rooms");
  const copy = h(
    "button",
    {
      type: "button",
      class: "secondary",
      id: "copy-code",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(room.joinCode);
          copy.textContent = "Copied";
        } catch {
          copy.textContent = "Select the code to copy it";
        }
      },
    },
    "Copy code",
  );
  setContent(
    `“${room.name}” is ready`,
    h("p", {}, "It is private: people join with this code", room.hasPassword ? " and the room password" : "", "."),
    h("p", { class: "join-code" }, h("code", { id: "join-code" }, room.joinCode || "")),
    h("p", { class: "button-row" }, copy, h("a", { href: `#/rooms/${room.id}`, class: "button primary", id: "open-created-room" }, "Open the room")),
  );
}

/** Public rooms, searched as one types (250 ms debounce), 20 at a time. */
export async function showDiscover(context) {
  const { session, setContent } = context;
  const results = h("ul", { class: "discover-list", id: "discover-results", "aria-live": "polite" });
  const search = h("input", { type: "search", id: "discover-query", name: "q", autocomplete: "off" });
  const status = h("p", { class: "form-error", role: "alert", hidden: true });
  let cursor = null;
  let query = "";
  const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => load(false) }, "More rooms");
  const load = async (reset) => {
    if (reset) {
      cursor = null;
      clear(results);
    }
    status.hidden = true;
    try {
      const params = new URLSearchParams({ q: query, limit: "20" });
      if (cursor) params.set("cursor", cursor);
      const answer = await session.api("GET", `/rooms/public?${params}`);
      if (reset) clear(results);
      if (answer.rooms.length === 0 && !cursor) results.append(h("li", { class: "muted" }, query ? "No public rooms match." : "No public rooms yet."));
      for (const room of answer.rooms) results.append(discoverItem(context, room));
      cursor = answer.nextCursor;
      more.hidden = !cursor;
    } catch (error) {
      status.textContent = messageFor(error);
      status.hidden = false;
    }
  };
  let debounce = null;
  search.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      query = search.value.trim();
      load(true);
    }, 250);
  });
  const searchForm = h("form", { role: "search", class: "search", onsubmit: (e) => e.preventDefault() }, h("label", { for: "discover-query" }, "Search public rooms"), search);
  const guestHint = session.user?.guest ? h("p", { class: "hint", id: "discover-guest-hint" }, "As a guest you see the public rooms that allow guests.") : null;
  setContent("Discover rooms", guestHint, searchForm, status, results, more);
  await load(true);
}

function discoverItem({ session, rooms, navigate, notice }, room) {
  const button = rooms.has(room.id)
    ? h("a", { href: `#/rooms/${room.id}`, class: "button secondary" }, "Open")
    : h(
        "button",
        {
          type: "button",
          class: "primary",
          "data-join-room": room.id,
          "aria-label": `Join ${room.name}`,
          onclick: async () => {
            button.disabled = true;
            try {
              const joined = await session.api("POST", `/rooms/${room.id}/join`);
              rooms.put(joined);
              navigate(`#/rooms/${joined.id}`);
            } catch (error) {
              button.disabled = false;
              notice(messageFor(error), "error");
            }
          },
        },
        "Join",
      );
  const members = `${room.memberCount} member${room.memberCount === 1 ? "" : "s"}`;
  return h(
    "li",
    { "data-room-id": room.id },
    h("div", { class: "room-text" }, h("span", { class: "room-name" }, "# ", h("bdi", {}, room.name)), h("span", { class: "preview" }, members, room.allowGuests ? " · guests welcome" : "", room.topic ? [" · ", h("bdi", {}, room.topic)] : "")),
    button,
  );
}

export function showJoinByCode(context) {
  const fields = [
    field({ label: "Join code", name: "code", autocomplete: "off", maxlength: 32, hint: "The code the room's owner shared with you." }),
    field({ label: "Room password (if it has one)", name: "password", type: "password", autocomplete: "off", required: false, maxlength: 128 }),
  ];
  const f = enterRoomForm(context, "join-form", fields, "Join room", { invalid_join_code: "That code, or the room password, is wrong." }, (values) => {
    const body = { code: values.code.trim() };
    if (values.password) body.password = values.password;
    return ["/rooms/join-by-code", body];
  });
  context.setContent("Join a private room", blockedNote(f, context.guest?.("join private rooms")), f);
}

/** A typed username as it is sent: without surrounding spaces and one "@" in front (as GET /users reads `q`). */
const bareUsername = (text) => text.trim().replace(/^@/, "");

export function showDirect(context) {
  const fields = [field({ label: "Username", name: "username", autocomplete: "off", maxlength: 32, count: bareUsername, hint: "Their username, with or without the @." })];
  const own = () => context.session.user?.username?.toLowerCase();
  const f = enterRoomForm(context, "direct-form", fields, "Start conversation", { user_not_found: "Nobody has that username." }, (values) => {
    const username = bareUsername(values.username);
    // Said in words here; the server's answer (a validation error on userId) would read "Username cannot start…".
    if (username.toLowerCase() === own()) throw { code: "self", message: "That is your own username.", fields: { username: "is your own: enter the username of the person you want to write to" } };
    return ["/direct", { username }];
  });
  suggestPeople(context.session, f);
  context.setContent("Message someone", blockedNote(f, context.guest?.("start direct messages") || context.unverified?.()), f);
}

/**
 * Under the form's username field, the people whose username or display name starts with what
 * was typed, among those I share a room with (or whose username it is exactly):
 * `GET /api/users?q=`. Choosing one starts the conversation.
 *
 * The field and its list are a combobox with list autocomplete, as the WAI-ARIA Authoring
 * Practices Guide's combobox pattern has it: the input is role=combobox with aria-controls
 * (the listbox), aria-expanded (whether the list is shown) and aria-activedescendant (the
 * option the arrows point at; the focus stays in the input); the list is role=listbox of
 * role=option items. ArrowDown/ArrowUp move through the options (wrapping; on a closed list
 * they open it), Enter takes the active option, Escape closes the list and keeps the text,
 * a click takes an option.
 */
function suggestPeople(session, f) {
  const input = f.elements.namedItem("username");
  const list = h("ul", { class: "people-suggestions", id: "direct-suggestions", role: "listbox", "aria-label": "People found", hidden: true });
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-expanded", "false");
  input.closest(".field").append(list);
  let timer = null;
  let asked = "";
  let users = []; // the people the list holds
  let active = -1; // the index of the active option, or -1

  const choose = (user) => {
    input.value = user.username;
    close();
    // requestSubmit() ignores a disabled submit button: a form that cannot be sent yet
    // (blockedNote: an unverified address) only takes the name.
    if (!f.querySelector("button[type=submit]")?.disabled) f.requestSubmit();
  };
  const render = () => {
    list.replaceChildren(
      ...users.map((user, index) =>
        h(
          "li",
          {
            id: `direct-suggestion-${index}`,
            role: "option",
            class: ["person", index === active && "active"],
            "aria-selected": String(index === active),
            "data-username": user.username,
            // mousedown: the focus stays in the input (the list would close on its blur).
            onmousedown: (event) => event.preventDefault(),
            onclick: () => choose(user),
          },
          h("bdi", {}, user.displayName),
          " ",
          h("span", { class: "muted" }, `@${user.username}`),
          guestBadge(user),
        ),
      ),
    );
    if (active >= 0) input.setAttribute("aria-activedescendant", `direct-suggestion-${active}`);
    else input.removeAttribute("aria-activedescendant");
  };
  const open = () => {
    list.hidden = users.length === 0;
    input.setAttribute("aria-expanded", String(!list.hidden));
    render();
  };
  function close() {
    active = -1;
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    active = -1;
    timer = setTimeout(async () => {
      const q = bareUsername(input.value);
      asked = q;
      if (!q) {
        users = [];
        close();
        return;
      }
      let found = [];
      try {
        found = (await session.api("GET", `/users?q=${encodeURIComponent(q)}&limit=8`)).users;
      } catch {
        found = []; // a failed lookup only means no suggestions; the form still works by username
      }
      if (asked !== q) return; // an older answer arriving late
      users = found;
      active = -1;
      if (users.length) open();
      else close();
    }, 150);
  });
  input.addEventListener("keydown", (event) => {
    if (event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return;
    const shown = !list.hidden;
    switch (event.key) {
      case "ArrowDown":
      case "ArrowUp": {
        if (users.length === 0) return;
        const step = event.key === "ArrowDown" ? 1 : -1;
        if (!shown) active = step > 0 ? 0 : users.length - 1;
        else active = active < 0 ? (step > 0 ? 0 : users.length - 1) : (active + step + users.length) % users.length;
        open();
        break;
      }
      case "Enter":
        if (!shown || active < 0) return; // the form's own submit
        choose(users[active]);
        break;
      case "Escape":
        if (!shown) return;
        close();
        break;
      default:
        return;
    }
    event.preventDefault();
  });
  input.addEventListener("blur", () => close());
}

/**
 * A form that POSTs to the path `request(values)` names (it returns [path, body], or throws
 * an API-shaped error `{code, message, fields}` to show without a request) and
 * opens the room the answer is; errors show on the form, `overrides` giving the text of
 * particular codes.
 */
function enterRoomForm({ session, rooms, navigate }, id, fields, submitLabel, overrides, request) {
  return form(id, fields, submitLabel, async (values, el) => {
    try {
      const [path, body] = request(values); // may throw an error to show, without asking the server
      const room = await session.api("POST", path, body);
      rooms.put(room);
      navigate(`#/rooms/${room.id}`);
    } catch (error) {
      showError(el, error, overrides);
    }
  });
}
