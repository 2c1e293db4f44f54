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

/** A labelled form field: <div class="field"><label>…</label><input>…<p class="field-error"></p></div> */
export function field({ label, name, type = "text", autocomplete, required = true, hint, value, minlength, maxlength, inputmode, autofocus }) {
  const id = `f-${name}-${Math.random().toString(36).slice(2, 8)}`;
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const input = h(type === "textarea" ? "textarea" : "input", {
    id,
    name,
    type: type === "textarea" ? undefined : type,
    autocomplete,
    required,
    value,
    minlength,
    maxlength,
    inputmode,
    autofocus,
    "aria-describedby": [hintId, errorId].filter(Boolean).join(" "),
  });
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    h("p", { class: "field-error", id: errorId, hidden: true }),
  );
}

/** Clears the errors a previous submit left on a form. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) {
    el.textContent = "";
    el.hidden = true;
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const general = form.querySelector(".form-error");
  if (general) {
    general.textContent = "";
    general.hidden = true;
  }
}

const FIELD_ALIASES = { login: ["login"], userId: ["username"], messageId: [], clientMsgId: [] };

/**
 * Shows an API error on a form: field messages next to their inputs (validation_failed,
 * username_taken…), the message in the form's alert, focus on the first bad field.
 */
export function showError(form, error, overrides = {}) {
  clearErrors(form);
  let firstBad = null;
  const fields = error && error.fields ? error.fields : {};
  for (const [name, problem] of Object.entries(fields)) {
    const names = [name, ...(FIELD_ALIASES[name] || [])];
    const input = names.map((n) => form.elements.namedItem(n)).find((el) => el && el.nodeType === 1);
    if (!input) continue;
    input.setAttribute("aria-invalid", "true");
    const box = input.closest(".field")?.querySelector(".field-error");
    if (box) {
      box.textContent = `${labelOf(input)} ${problem}.`.replace(/\.\.$/, ".");
      box.hidden = false;
    }
    firstBad ||= input;
  }
  const general = form.querySelector(".form-error");
  if (general) {
    general.textContent = overrides[error?.code] || messageFor(error);
    general.hidden = false;
  }
  // Focus the first bad field in the form's order.
  firstBad = [...form.elements].find((el) => el.getAttribute("aria-invalid") === "true") || firstBad;
  (firstBad || general)?.focus?.();
}

function labelOf(input) {
  const label = input.id ? input.form?.querySelector(`label[for="${input.id}"]`) : null;
  return label ? label.textContent.replace(/\s*\(.*\)\s*$/, "") : input.name;
}

/** Human text for an API or socket error. */
export function messageFor(error) {
  if (!error) return "Something went wrong.";
  switch (error.code) {
    case "too_many_attempts":
    case "too_many_requests":
      return error.retryAfter ? `Too many attempts. Try again in ${error.retryAfter} seconds.` : error.message;
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

export function formatBadge(count) {
  return count > 999 ? "999+" : String(count);
}
