// The sign-in screen: paste an API key; it is checked with GET /me, then kept in this tab's
// sessionStorage only (closing the tab forgets it).

import * as api from "../api.js";
import { el, errorBox } from "../ui.js";

export function render(root, params, ctx) {
  const input = el("input", { id: "key", type: "password", name: "key", autocomplete: "off",
    spellcheck: "false", required: true, "aria-describedby": "key-help" });
  const status = el("div", { class: "signin-status", "aria-live": "polite" });
  const button = el("button", { type: "submit", class: "primary" }, "Sign in");
  const form = el("form", { class: "signin", novalidate: true },
    el("h1", {}, "Sign in to Gonk"),
    params.message ? el("p", { class: "notice" }, params.message) : null,
    el("label", { for: "key" }, "API key"),
    input,
    el("p", { id: "key-help", class: "muted" },
      "The key printed by ", el("code", {}, "gonk-api init"), " or ",
      el("code", {}, "gonk-api users add"),
      ". It is kept for this browser tab only and sent with each request to this server."),
    button, status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      status.replaceChildren(errorBox(new Error("Paste your API key first.")));
      input.focus();
      return;
    }
    button.disabled = true;
    status.replaceChildren(el("span", { class: "muted" }, "Checking the key…"));
    try {
      const me = await api.whoAmI(key);
      api.setKey(key);
      ctx.onSignedIn(me.user);
    } catch (e) {
      const error = e instanceof api.ApiError && e.status === 401
        ? new api.ApiError(401, "This key is not accepted by the server.") : e;
      status.replaceChildren(errorBox(error, "Not signed in"));
      button.disabled = false;
      input.select();
    }
  });
  root.replaceChildren(form);
  input.focus();
}
