// The banner above the rooms while the user's email address is not verified, with a
// button that mails a new link (POST /auth/resend-verification).

import { clear, h, messageFor } from "./dom.js";

export class VerifyBanner {
  constructor(session) {
    this.session = session;
    this.stopped = false;
    this.el = h("div", { class: "banner", id: "verify-banner", hidden: true });
  }

  /** Shows the banner if the user is not verified, hides it otherwise. */
  render() {
    const user = this.session.user;
    clear(this.el);
    if (!user || user.emailVerified) {
      this.el.hidden = true;
      return;
    }
    const status = h("span", { role: "status", class: "banner-status" });
    const button = h("button", { type: "button", class: "link-button", onclick: () => this.#resend(button, status) }, "Send a new link");
    this.el.append(h("span", {}, "Verify your email address (", h("bdi", {}, user.email), ") to create rooms and post: open the link we mailed you. "), button, " ", status);
    this.el.hidden = false;
  }

  /** Picks up a verification done elsewhere (the mailed link opened in another tab). */
  async refresh() {
    try {
      const me = await this.session.api("GET", "/me");
      if (this.stopped || !this.session.user) return;
      this.session.updateUser(me); // the app redraws on the session's "user" event
    } catch {
      // Not important enough to report.
    }
  }

  async #resend(button, status) {
    button.disabled = true;
    try {
      const answer = await this.session.api("POST", "/auth/resend-verification");
      status.textContent = answer?.message || "A new link is on its way.";
    } catch (error) {
      if (error.code === "email_already_verified") {
        this.session.updateUser({ emailVerified: true });
        return;
      }
      status.textContent = messageFor(error);
    } finally {
      button.disabled = false;
    }
  }
}
