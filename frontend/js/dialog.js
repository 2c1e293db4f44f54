// Our own confirmation dialog instead of the browser's confirm(): a modal <dialog>
// (showModal gives the focus trap, Escape to cancel and the inert page behind it), styled as
// the app, with the question as its accessible name and description, focus on the safe
// choice, and focus back where it was afterwards.

import { h } from "./dom.js";

/**
 * Asks a yes/no question. Resolves true when `confirmLabel` is chosen, false on Cancel,
 * Escape or a click outside. danger: the confirm button is styled as destructive.
 */
export function confirmDialog({ title, text, confirmLabel = "OK", cancelLabel = "Cancel", danger = false }) {
  return new Promise((resolve) => {
    const returnFocus = document.activeElement;
    const cancel = h("button", { type: "button", id: "dialog-cancel" }, cancelLabel);
    const ok = h("button", { type: "button", id: "dialog-confirm", class: danger ? "danger" : "primary" }, confirmLabel);
    const dialog = h(
      "dialog",
      { class: "dialog", id: "confirm-dialog", "aria-labelledby": "dialog-title", "aria-describedby": "dialog-text" },
      h("h2", { id: "dialog-title" }, title),
      h("p", { id: "dialog-text", dir: "auto" }, text),
      h("div", { class: "button-row dialog-buttons" }, cancel, ok),
    );
    let answer = false;
    const close = (value) => {
      answer = value;
      dialog.close();
    };
    cancel.addEventListener("click", () => close(false));
    ok.addEventListener("click", () => close(true));
    // A click on the backdrop (the dialog element itself, outside its content) cancels.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) close(false);
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (returnFocus && returnFocus.isConnected) returnFocus.focus?.();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
