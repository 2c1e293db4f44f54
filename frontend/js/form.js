// Forms: labelled fields, one submit helper for every form of the app, and API errors
// shown next to the fields they name. Validation messages are the browser's own
// (constraint validation), shown in the field's error line instead of a bubble.

import { h, messageFor } from "./dom.js";

/**
 * A form with a general error line (`.form-error`, role=alert) on top, `fields`, and a
 * submit button labelled `submitLabel` followed by `extra` nodes.
 *
 * On submit: earlier errors (and a `.flash` notice next to the form) are cleared; the first field that fails constraint validation
 * gets aria-invalid, its message and focus, and nothing is sent; otherwise
 * `onSubmit(values, form)` runs (values: the FormData as a plain object) with the button
 * disabled and the form aria-busy until it settles. `onSubmit` shows its own errors
 * (usually with `showError`).
 */
export function form(id, fields, submitLabel, onSubmit, extra = []) {
  const general = h("p", { class: "form-error", role: "alert", tabindex: "-1", hidden: true });
  const button = h("button", { type: "submit", class: "primary" }, submitLabel);
  const el = h("form", { id, novalidate: true }, general, ...fields, h("div", { class: "actions" }, button, ...extra));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(el);
    // A notice left from before (e.g. "your session has ended") is stale once the person acts.
    for (const old of el.parentElement?.querySelectorAll(":scope > .flash") || []) old.remove();
    const bad = [...el.elements].find((input) => input.willValidate && !input.validity.valid);
    if (bad) {
      markInvalid(bad, bad.validationMessage);
      bad.focus();
      return;
    }
    button.disabled = true;
    el.setAttribute("aria-busy", "true");
    try {
      await onSubmit(Object.fromEntries(new FormData(el)), el);
    } finally {
      button.disabled = false;
      el.removeAttribute("aria-busy");
    }
  });
  return el;
}

/** Flags one input as invalid and shows `text` in its field's error line (if it has one). */
function markInvalid(input, text) {
  input.setAttribute("aria-invalid", "true");
  const box = input.closest(".field")?.querySelector(".field-error");
  if (box) {
    box.textContent = text;
    box.hidden = false;
  }
}

/**
 * A labelled form field: <div class="field"><label>…</label><input>…<p class="field-count">
 * <p class="field-error"></p></div>.
 *
 * `maxlength` is counted as the server counts it, in Unicode scalars (`[...text].length`), not
 * in the UTF-16 units of the HTML attribute, and it is never enforced by cutting what was
 * typed or pasted (the attribute would do that silently): from 80% of the limit a counter
 * says how many characters are left, past it how many are over, and the field fails
 * validation until it is short enough. What is counted is `count(value)`: what the server
 * will measure. By default the value without surrounding whitespace (the server trims names,
 * topics, usernames and codes before measuring them, docs/openapi.yaml); passwords are
 * counted whole (never trimmed); a form that drops more before sending (the "@" in front of
 * a username) passes its own.
 */
export function field({ label, name, type = "text", autocomplete, required = true, hint, value, minlength, maxlength, inputmode, autofocus, count: measured = type === "password" ? (text) => text : (text) => text.trim() }) {
  const id = `f-${name}-${Math.random().toString(36).slice(2, 8)}`;
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const countId = maxlength ? `${id}-count` : null;
  const input = h(type === "textarea" ? "textarea" : "input", {
    id,
    name,
    type: type === "textarea" ? undefined : type,
    autocomplete,
    required,
    value,
    minlength,
    inputmode,
    autofocus,
    "aria-describedby": [hintId, countId, errorId].filter(Boolean).join(" "),
  });
  const count = maxlength ? h("p", { class: "field-count", id: countId, "aria-live": "polite", hidden: true }) : null;
  if (maxlength) {
    const refresh = () => {
      const length = [...measured(input.value)].length;
      const over = length - maxlength;
      count.hidden = length < Math.ceil(maxlength * 0.8);
      count.classList.toggle("over", over > 0);
      count.textContent = over > 0 ? `${over} over the limit of ${maxlength} characters` : `${-over} of ${maxlength} characters left`;
      input.setCustomValidity(over > 0 ? `Use at most ${maxlength} characters (${over} over).` : "");
    };
    input.addEventListener("input", refresh);
    refresh();
  }
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    count,
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
 *
 * An error about one field of the form only (a wrong password, a taken username) is said
 * once, next to that field (the `overrides` text for its code if there is one, else the
 * field's problem): the form's general line would only repeat it. The focus moves to the
 * field, whose description (aria-describedby) is that line.
 */
export function showError(form, error, overrides = {}) {
  clearErrors(form);
  let firstBad = null;
  const fields = error && error.fields ? error.fields : {};
  const placed = [];
  for (const [name, problem] of Object.entries(fields)) {
    const names = [name, ...(FIELD_ALIASES[name] || [])];
    const input = names.map((n) => form.elements.namedItem(n)).find((el) => el && el.nodeType === 1);
    if (!input) continue;
    placed.push(input);
    markInvalid(input, `${labelOf(input)} ${problem}.`.replace(/\.\.$/, "."));
    firstBad ||= input;
  }
  const override = overrides[error?.code];
  const single = placed.length === 1 && Object.keys(fields).length === 1;
  if (single && override) markInvalid(placed[0], override);
  const general = form.querySelector(".form-error");
  if (general && !single) {
    general.textContent = override || messageFor(error);
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
