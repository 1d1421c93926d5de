// #/d/<name>/log: the dataset's events in log order, a page at a time ("Load more"), each with
// its type, author, time, what it concerns, its review (for create, update and delete events)
// and its integrity shortened; and "Verify in this browser", which fetches the whole log and
// recomputes the hash chain with WebCrypto's SHA-256 and RFC 8785 canonical JSON (jcs.js):
//   integrity = sha256(previous integrity's 32 bytes + canonical(event without "integrity"))

import * as api from "../api.js";
import { el, crumbs, errorBox } from "../ui.js";
import { canonicalBytes } from "../jcs.js";

const PAGE = 100;
const VERIFY_PAGE = 1000;
const REVIEWABLE = /^(Object|Annotation)(Create|Update|Delete)Event$/;

function concerns(e) {
  if (e.object) return `object ${e.object.name ?? ""} ${short(e.object.uuid)} v${e.object.version ?? ""}`;
  if (e.object_identifier) return `object ${short(e.object_identifier.uuid)} v${e.object_identifier.version ?? ""}`;
  if (e.annotation) return `annotation ${short(e.annotation.uuid)} v${e.annotation.version ?? ""}`;
  if (e.annotation_identifier) {
    return `annotation ${short(e.annotation_identifier.uuid)} v${e.annotation_identifier.version ?? ""}`;
  }
  if (e.event_uuid) return `event ${short(e.event_uuid)}`;
  if (e.owner) return `owner ${e.owner}`;
  return "";
}

function short(text) {
  return typeof text === "string" ? text.slice(0, 8) : "";
}

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// the chain of `events` continued from `previous` (raw bytes of the last integrity, or empty)
export async function verifyChain(events, previous, offset) {
  for (let i = 0; i < events.length; i++) {
    const { integrity, ...body } = events[i];
    const canonical = canonicalBytes(body);
    const input = new Uint8Array(previous.length + canonical.length);
    input.set(previous, 0);
    input.set(canonical, previous.length);
    const digest = await crypto.subtle.digest("SHA-256", input);
    if (hex(digest) !== integrity) return { broken: offset + i, event: events[i] };
    previous = new Uint8Array(digest);
  }
  return { previous };
}

export async function render(root, { dataset }, ctx) {
  const d = api.enc(dataset);
  const path = `/datasets/${d}/events`;
  const signal = ctx.signal;
  crumbs({ text: "Datasets", href: "#/datasets" }, { text: dataset, href: `#/d/${d}` },
    { text: "Log" });

  const verifyButton = el("button", { type: "button", id: "verify" }, "Verify in this browser");
  const progress = el("progress", { id: "verify-progress", hidden: true });
  const result = el("p", { id: "verify-result", "aria-live": "polite" });
  const summary = el("p", { class: "muted", id: "log-summary", "aria-live": "polite" });
  const body = el("tbody");
  const table = el("table", { class: "events log" }, el("thead", {}, el("tr", {},
    el("th", {}, "#"), el("th", {}, "Type"), el("th", {}, "Author"), el("th", {}, "Time"),
    el("th", {}, "Concerns"), el("th", {}, "Review"), el("th", {}, "Integrity"))), body);
  const more = el("button", { type: "button", class: "more", id: "more", hidden: true },
    "Load more");
  root.replaceChildren(el("h1", {}, `${dataset}: log`),
    el("div", { class: "toolbar" }, verifyButton, progress), result, summary, table, more);

  // reviews: pending ones from ?pending=true, decided ones from the review events seen so far
  const pending = new Set();
  for await (const items of api.pages(path, { limit: VERIFY_PAGE, query: { pending: "true" },
    signal })) {
    for (const e of items) pending.add(e.uuid);
  }
  const decided = new Map(); // event uuid -> "accepted" | "rejected"
  const reviewCells = new Map(); // event uuid -> td
  let count = 0;
  let after;

  function reviewBadge(cell, uuid) {
    const state = decided.get(uuid) ?? (pending.has(uuid) ? "pending" : "reviewed");
    cell.replaceChildren(el("span", { class: `badge ${state}`, title: state === "reviewed"
      ? "decided by a review later in the log" : "" }, state));
  }

  async function loadPage() {
    more.disabled = true;
    try {
      const { items, next } = await api.page(path, { after, limit: PAGE, signal });
      for (const e of items) {
        if (e.type === "ReviewAcceptEvent" || e.type === "ReviewRejectEvent") {
          decided.set(e.event_uuid, e.type === "ReviewAcceptEvent" ? "accepted" : "rejected");
          const cell = reviewCells.get(e.event_uuid);
          if (cell) reviewBadge(cell, e.event_uuid);
        }
        const review = el("td", { "data-field": "review" });
        if (REVIEWABLE.test(e.type)) {
          reviewCells.set(e.uuid, review);
          reviewBadge(review, e.uuid);
        }
        body.append(el("tr", { "data-uuid": e.uuid, "data-index": count },
          el("td", { class: "muted small" }, String(count)),
          el("td", { "data-field": "type" }, e.type),
          el("td", { "data-field": "author" }, e.author),
          el("td", { class: "small" }, el("time", { datetime: e.timestamp }, e.timestamp)),
          el("td", { class: "small" }, concerns(e)),
          review,
          el("td", {}, el("code", { class: "small", title: e.integrity },
            `${String(e.integrity).slice(0, 12)}…`))));
        count += 1;
      }
      if (items.length) after = items[items.length - 1].uuid;
      more.hidden = next === null;
      summary.textContent = `${count} event${count === 1 ? "" : "s"} shown` +
        (next === null ? " (the whole log)." : ".");
    } catch (e) {
      if (e.name === "AbortError") return;
      summary.replaceChildren(errorBox(e, "The events could not be loaded"));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", loadPage);

  async function verify() {
    if (!window.isSecureContext || !globalThis.crypto || !crypto.subtle) {
      result.replaceChildren(el("div", { class: "error", role: "alert" },
        "This browser offers SHA-256 (WebCrypto) only to secure pages: open Gonk over HTTPS, ",
        "or at 127.0.0.1 / localhost, to verify here; or verify with the README's script."));
      return;
    }
    verifyButton.disabled = true;
    progress.hidden = false;
    progress.removeAttribute("value");
    result.className = "";
    result.textContent = "Verifying…";
    let previous = new Uint8Array(0);
    let verified = 0;
    let last = null;
    try {
      let cursor;
      for (;;) {
        const { items, next } = await api.page(path, { after: cursor, limit: VERIFY_PAGE,
          signal });
        const outcome = await verifyChain(items, previous, verified);
        if (outcome.broken !== undefined) {
          result.className = "error";
          result.setAttribute("data-broken-index", outcome.broken);
          result.setAttribute("data-broken-uuid", outcome.event.uuid ?? "");
          result.textContent = `The chain breaks at event ${outcome.broken} ` +
            `(${outcome.event.uuid}): its integrity does not match its content and the ` +
            `events before it (the ${outcome.broken} before it verified).`;
          const row = body.querySelector(`tr[data-uuid="${CSS.escape(outcome.event.uuid ?? "")}"]`);
          if (row) row.classList.add("broken");
          return;
        }
        previous = outcome.previous;
        verified += items.length;
        if (items.length) last = items[items.length - 1].integrity;
        progress.value = verified;
        progress.max = next === null ? verified : verified + VERIFY_PAGE;
        result.textContent = `Verifying… ${verified} events so far.`;
        if (next === null) break;
        cursor = next;
      }
      result.className = "ok";
      result.setAttribute("data-verified", verified);
      result.setAttribute("data-integrity", last ?? "");
      result.replaceChildren(verified === 0 ? "The log is empty: nothing to verify."
        : `${verified} events verified, up to integrity `, verified === 0 ? ""
        : el("code", { id: "verified-integrity" }, last), verified === 0 ? "" : ".");
    } catch (e) {
      if (e.name === "AbortError") return;
      result.replaceChildren(errorBox(e, "The verification could not finish"));
    } finally {
      verifyButton.disabled = false;
      progress.hidden = true;
    }
  }
  verifyButton.addEventListener("click", verify);

  await loadPage();
}
