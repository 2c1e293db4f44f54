// Tiny DOM helpers. Text always goes in through textContent, never as HTML.

/**
 * h("button", {class: "primary", onclick: fn, "aria-label": "Send"}, "Send")
 * Attributes: class, text, on<event> handlers, boolean true/false, everything else as an attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?'")\]}]+$/;

/**
 * A message body as nodes: text, with http(s) URLs as links that open in a new tab without
 * access to this page or a Referer (`rel="noopener noreferrer"`). Only http: and https: are
 * ever links (never javascript:, data: or anything else); the text goes in as text nodes, so
 * nothing in a body is read as HTML. Trailing punctuation stays outside a link, and a ")" is
 * kept when the URL opened one (Wikipedia's "Foo_(bar)"). A URL whose text does not name the
 * host it opens (a user part, lookalike or invisible characters in the host) stays text.
 */
export function linkify(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let url = match[0];
    const trailing = url.match(TRAILING_PUNCTUATION)?.[0] || "";
    url = url.slice(0, url.length - trailing.length);
    if (trailing.startsWith(")") && url.includes("(") && !url.includes(")")) url += ")";
    let parsed = null;
    try {
      parsed = new URL(url);
    } catch {
      parsed = null;
    }
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) continue;
    if (!goesWhereItReads(url, parsed)) continue;
    if (match.index > last) nodes.push(text.slice(last, match.index));
    // dir="ltr" isolates the URL (HTML's [dir] is unicode-bidi: isolate): in right-to-left
    // text it reads as one left-to-right run, not split around its slashes.
    nodes.push(h("a", { href: parsed.href, rel: "noopener noreferrer", target: "_blank", dir: "ltr" }, url));
    last = match.index + url.length;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}

/**
 * Whether a URL's text names the host it opens: no user part ("https://bank.example@evil.example/"
 * opens evil.example) and the host as written, lower-cased and without its port, is the parsed
 * host. A host with non-ASCII lookalikes ("аpple.com" with a Cyrillic "а" opens
 * xn--pple-43d.com) or invisible characters ("exa\u200Bmple.com") differs, and stays text.
 */
function goesWhereItReads(url, parsed) {
  if (parsed.username || parsed.password) return false;
  const written = url.slice(url.indexOf("//") + 2).split(/[/?#]/)[0];
  if (written.includes("@")) return false;
  return written.toLowerCase().replace(/:\d*$/, "") === parsed.hostname;
}

/** Human text for an API or socket error. */
export function messageFor(error) {
  if (!error) return "Something went wrong.";
  switch (error.code) {
    case "too_many_attempts":
    case "too_many_requests":
      return error.retryAfter ? `Too many attempts. Try again in ${error.retryAfter} seconds.` : error.message;
    case "muted":
      return error.retryAfter ? `You are muted in this room for another ${error.retryAfter} seconds.` : error.message;
    case "ack_timeout":
      return "The server did not answer in time.";
    case "disconnected":
      return "The connection was closed.";
    default:
      return error.message || "Something went wrong.";
  }
}

export function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

/**
 * A message's time as people read it in a chat: "just now" under a minute, "5 min. ago"
 * under an hour (Intl.RelativeTimeFormat, short style), then the clock time (today) or date
 * and time. `now`: ms since the epoch. Callers refresh it (see MessageList) so it stays true.
 */
export function formatRelativeTime(iso, now = Date.now()) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return new Intl.RelativeTimeFormat([], { style: "short", numeric: "always" }).format(-Math.floor(seconds / 60), "minute");
  return formatTime(iso);
}

/** "Today", "Yesterday", or the date ("Monday, 3 November 2026") of a day separator. */
export function formatDay(iso, now = Date.now()) {
  const date = new Date(iso);
  const today = new Date(now);
  const yesterday = new Date(now - 86400000);
  if (date.toDateString() === today.toDateString()) return "Today";
  if (date.toDateString() === yesterday.toDateString()) return "Yesterday";
  return date.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long", year: "numeric" });
}

export function formatBadge(count) {
  return count > 999 ? "999+" : String(count);
}
