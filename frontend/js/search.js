// The search screen (#/search): full-text search over the messages of my rooms
// (GET /api/search/messages, docs/openapi.yaml). A query, optionally one room; results best
// first with the room's name, the author, the time and an excerpt whose matched words are
// <mark>ed (the server sends the excerpt as parts, never HTML); "More results" pages on.
// Clicking a result opens its room.

import { clear, formatRelativeTime, h, messageFor } from "./dom.js";
import { roomName } from "./room-list.js";

/** The screen, in the content pane. context: the app's screens context (session, rooms, navigate, setContent). */
export function showSearch(context, { query = "", roomId = "" } = {}) {
  const { session, rooms } = context;
  const input = h("input", { type: "search", id: "search-query", name: "q", required: true, maxlength: 256, autocomplete: "off", value: query, placeholder: "Words to find" });
  const roomSelect = h(
    "select",
    { id: "search-room", name: "roomId" },
    h("option", { value: "" }, "All my rooms"),
    ...[...rooms.rooms.values()].sort((a, b) => roomName(a).localeCompare(roomName(b))).map((room) => h("option", { value: String(room.id), selected: String(room.id) === String(roomId) }, roomName(room))),
  );
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const status = h("p", { class: "muted", id: "search-status", role: "status" });
  const results = h("ol", { class: "search-results", id: "search-results" });
  const more = h("button", { type: "button", class: "secondary", id: "search-more", hidden: true }, "More results");
  let nextCursor = null;
  let current = null; // {q, roomId}

  async function run(cursor) {
    error.hidden = true;
    const params = new URLSearchParams({ q: current.q, limit: "20" });
    if (current.roomId) params.set("roomId", current.roomId);
    if (cursor) params.set("cursor", cursor);
    status.textContent = "Searching…";
    try {
      const page = await session.api("GET", `/search/messages?${params}`);
      if (!cursor) clear(results);
      for (const hit of page.results) results.append(resultItem(hit));
      nextCursor = page.nextCursor || null;
      more.hidden = !nextCursor;
      const shown = results.children.length;
      status.textContent = shown === 0 ? "No messages found." : `${shown} result${shown === 1 ? "" : "s"}${nextCursor ? " so far" : ""}.`;
    } catch (err) {
      status.textContent = "";
      error.textContent = messageFor(err);
      error.hidden = false;
    }
  }

  function resultItem(hit) {
    const room = rooms.get(hit.roomId);
    const where = room ? roomName(room) : `Room ${hit.roomId}`;
    const open = () => context.navigate(`#/rooms/${hit.roomId}`);
    return h(
      "li",
      { class: "search-result", "data-message-id": hit.id, "data-room-id": hit.roomId },
      h(
        "a",
        { href: `#/rooms/${hit.roomId}`, onclick: (event) => { event.preventDefault(); open(); } },
        h("span", { class: "search-room", dir: "auto" }, where),
        " · ",
        h("span", { class: "search-author", dir: "auto" }, hit.author.displayName || hit.author.username),
        " · ",
        h("time", { datetime: hit.createdAt, title: new Date(hit.createdAt).toLocaleString() }, formatRelativeTime(hit.createdAt)),
        h("p", { class: "search-snippet", dir: "auto" }, ...hit.snippet.map((part) => (part.match ? h("mark", {}, part.text) : part.text))),
      ),
    );
  }

  const form = h(
    "form",
    {
      class: "search-form",
      id: "search-form",
      role: "search",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        const q = input.value.trim();
        if (!q) {
          error.textContent = "Type some words to search for.";
          error.hidden = false;
          return;
        }
        current = { q, roomId: roomSelect.value };
        run(null);
      },
    },
    error,
    h("label", { for: "search-query" }, "Search messages"),
    input,
    h("label", { for: "search-room" }, "In"),
    roomSelect,
    h("button", { type: "submit", class: "primary", id: "search-submit" }, "Search"),
  );
  more.addEventListener("click", () => nextCursor && run(nextCursor));
  context.setContent("Search", form, status, results, more);
  input.focus();
  if (query) form.requestSubmit();
}
