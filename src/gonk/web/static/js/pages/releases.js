// #/d/<name>/releases: the dataset's releases (GET .../releases, paged by name), a form that
// creates one (owners only: POST .../releases), each release's downloads (its manifest and its
// label exports in every format, with or without the object files), and the diff between two
// points (GET .../diff, paged, the end point pinned by its Gonk-Diff-To header).
//
// Downloads are fetched with the key (a plain link could not send it), read into memory and
// handed to the browser as a file: fine for labels and for moderate datasets with files; for
// very large ones use `gonk-api export` or `Client.release(name).pull()` (README).

import * as api from "../api.js";
import { el, crumbs, errorBox, notify, when } from "../ui.js";

const PAGE = 100;
const DIFF_PAGE = 100;
export const FORMATS = [
  ["coco", "COCO"], ["yolo", "YOLO"], ["voc", "Pascal VOC"], ["csv", "CSV"], ["parquet", "Parquet"],
];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export async function render(root, { dataset }, ctx) {
  const d = api.enc(dataset);
  const signal = ctx.signal;
  crumbs({ text: "Datasets", href: "#/datasets" }, { text: dataset, href: `#/d/${d}` },
    { text: "Releases" });
  const info = await api.json(`/datasets/${d}`, { signal }); // `access`: what the user may do
  const isOwner = info.access === "owner";

  // --- the list ---
  const withFiles = el("input", { type: "checkbox", id: "with-files" });
  const body = el("tbody");
  const table = el("table", { class: "releases" },
    el("caption", { class: "visually-hidden" }, "Releases"),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, "Release"), el("th", { scope: "col" }, "At"),
      el("th", { scope: "col", class: "num" }, "Content"), el("th", { scope: "col" }, "Downloads"))),
    body);
  const empty = el("p", { class: "muted", id: "no-release", hidden: true },
    isOwner ? "No release yet: name the dataset's current content below to make the first."
      : "No release yet.");
  const more = el("button", { type: "button", class: "more", id: "more", hidden: true }, "Load more");
  const releases = []; // in creation order, as listed
  let after = null;

  // --- the form (owners) ---
  const form = isOwner ? createForm() : null;

  // --- the diff ---
  const names = el("datalist", { id: "release-names" });
  const fromInput = el("input", { id: "diff-from", list: "release-names", autocomplete: "off",
    placeholder: "the empty dataset" });
  const toInput = el("input", { id: "diff-to", list: "release-names", autocomplete: "off",
    placeholder: "the latest event" });
  const diffForm = el("form", { class: "toolbar diff-form", id: "diff-form" },
    el("label", { for: "diff-from" }, "From"), fromInput,
    el("label", { for: "diff-to" }, "to"), toInput,
    el("button", { type: "submit", class: "primary" }, "Compare"), names);
  const diffResult = el("div", { id: "diff-result", "aria-live": "polite" });

  root.replaceChildren(el("h1", {}, `${dataset}: releases`),
    el("p", { class: "muted small" }, "A release names one point of the log; its content never changes. ",
      "Exports are zip archives of the labels at that point, with the object files when asked."),
    el("div", { class: "toolbar" }, el("label", { for: "with-files" }, withFiles,
      " Include the object files in exports")),
    table, empty, more, form,
    el("section", { "aria-labelledby": "diff-h" }, el("h2", { id: "diff-h" }, "Compare two points"),
      el("p", { class: "muted small" }, "Each point is a release name or an event uuid; "
        + "leave From empty for the empty dataset, To for the latest event."),
      diffForm, diffResult));

  async function loadMore() {
    more.hidden = true;
    try {
      const items = await api.json(`/datasets/${d}/releases`,
        { query: { after: after ?? undefined, limit: PAGE }, signal });
      for (const r of items) addRelease(r);
      if (items.length) after = items[items.length - 1].name;
      more.hidden = items.length < PAGE;
    } catch (e) {
      if (e.name === "AbortError") return; // the page was left
      table.after(errorBox(e, "The releases could not be loaded"));
    }
    empty.hidden = releases.length > 0;
  }
  more.addEventListener("click", loadMore);
  ctx.onLeave(() => {
    for (const row of body.querySelectorAll("tr")) if (row._saved) URL.revokeObjectURL(row._saved);
  });

  function addRelease(r) {
    if (releases.some((x) => x.name === r.name)) return; // made here while the list loaded
    releases.push(r);
    names.append(el("option", { value: r.name }));
    const c = r.counts;
    const downloads = el("div", { class: "downloads" },
      el("button", { type: "button", "data-format": "manifest", title: "JSON Lines, one line per version" },
        "Manifest"),
      FORMATS.map(([format, label]) => el("button", { type: "button", "data-format": format }, label)));
    for (const button of downloads.querySelectorAll("button")) {
      button.addEventListener("click", () => download(r, button.dataset.format, button));
    }
    const row = el("tr", { "data-release": r.name },
      el("th", { scope: "row" }, el("strong", {}, r.name),
        r.description ? el("p", { class: "description" }, r.description) : null,
        el("span", { class: "muted small by" }, `${r.author}, ${when(r.created)}`)),
      el("td", {}, `event #${r.at.index}`, el("br"),
        el("code", { class: "muted small", title: r.at.uuid }, r.at.uuid.slice(0, 8))),
      el("td", { class: "num" }, el("span", {}, plural(c.objects, "object")), el("br"),
        el("span", {}, plural(c.annotations, "annotation")), el("br"),
        el("span", {}, plural(c.schemas, "schema")), el("br"),
        el("span", { class: "muted small" }, size(c.bytes)),
        c.stale_annotations ? [el("br"), el("span", { class: "muted small" },
          `${plural(c.stale_annotations, "stale annotation")} left out`)] : null),
      el("td", {}, downloads, el("span", { class: "muted small progress", "aria-live": "polite" })));
    body.append(row);
    return row;
  }

  async function download(release, format, button) {
    const row = button.closest("tr");
    const status = row.querySelector(".progress");
    const files = withFiles.checked && format !== "manifest";
    const path = format === "manifest"
      ? `/datasets/${d}/releases/${api.enc(release.name)}/manifest`
      : `/datasets/${d}/releases/${api.enc(release.name)}/export`;
    const query = format === "manifest" ? {} : { format, files: files ? "true" : "false" };
    const fallback = format === "manifest" ? `${dataset}-${release.name}-manifest.jsonl`
      : `${dataset}-${release.name}-${format}.zip`;
    for (const b of row.querySelectorAll(".downloads button")) b.disabled = true;
    status.textContent = "Preparing…";
    try {
      const response = await api.request(path, { query, signal });
      const blob = await readAll(response, (n) => { status.textContent = `${size(n)} received…`; });
      if (format === "manifest") await checkManifest(blob, release.manifest_sha256);
      if (signal.aborted) return; // the page was left meanwhile: nothing to save
      const name = filename(response.headers.get("Content-Disposition")) || fallback;
      // the file is offered as a link; it is also saved at once while the click that asked for
      // it still counts as the user's (browsers drop a later script-started download)
      if (row._saved) URL.revokeObjectURL(row._saved);
      const href = URL.createObjectURL(blob);
      row._saved = href;
      const save = el("a", { href, download: name, class: "save", "data-format": format,
        "data-files": String(files) }, `Save ${name}`);
      status.replaceChildren(save, ` (${size(blob.size)})`);
      if (navigator.userActivation && navigator.userActivation.isActive) {
        save.dataset.saved = "auto";
        save.click();
      }
    } catch (e) {
      if (e.name === "AbortError") return;
      status.textContent = "";
      notify(e, `The ${format} download failed`);
    } finally {
      for (const b of row.querySelectorAll(".downloads button")) b.disabled = false;
    }
  }

  function createForm() {
    const name = el("input", { id: "release-name", name: "name", required: true, maxlength: 128,
      autocomplete: "off", placeholder: "v1.0" });
    const description = el("textarea", { id: "release-description", name: "description",
      rows: 2, maxlength: 10000 });
    const at = el("input", { id: "release-at", name: "at", autocomplete: "off",
      placeholder: "the latest event", size: 38 });
    const result = el("div", { id: "release-result", "aria-live": "polite" });
    const f = el("form", { class: "release-form", id: "release-form", "aria-labelledby": "new-h" },
      el("h2", { id: "new-h" }, "New release"),
      el("label", { for: "release-name" }, "Name"), name,
      el("label", { for: "release-description" }, "Description (optional)"), description,
      el("label", { for: "release-at" }, "At event (optional: an event uuid)"), at,
      el("div", {}, el("button", { type: "submit", class: "primary" }, "Create the release")), result);
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      result.replaceChildren();
      if (!NAME.test(name.value)) {
        result.append(errorBox(new Error("A name is 1 to 128 of A-Z a-z 0-9 . _ - starting with a letter or a digit.")));
        return;
      }
      const button = f.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const body = { name: name.value };
        if (description.value) body.description = description.value;
        if (at.value.trim()) body.at = at.value.trim();
        const made = await api.json(`/datasets/${d}/releases`, { method: "POST", body, signal });
        if (more.hidden) addRelease(made); // else it shows when the list reaches it
        empty.hidden = true;
        result.append(el("p", { class: "ok-text" }, `Release ${made.name} made at event #${made.at.index}: `
          + `${made.counts.objects} objects, ${made.counts.annotations} annotations.`));
        name.value = ""; description.value = ""; at.value = "";
      } catch (err) {
        if (err.name === "AbortError") return;
        result.append(errorBox(err, "Not created"));
      } finally {
        button.disabled = false;
      }
    });
    return f;
  }

  // --- the diff ---
  let diff = null;
  diffForm.addEventListener("submit", (e) => {
    e.preventDefault();
    compare(fromInput.value.trim(), toInput.value.trim());
  });

  async function compare(from, to) {
    ctx.setQuery({ compare: "1", from, to }); // kept even with both ends empty
    const mine = { from, to, pinned: null, after: null, counts: {}, done: false };
    diff = mine;
    const list = el("tbody");
    const summary = el("p", { id: "diff-summary" }, "Comparing…");
    const next = el("button", { type: "button", class: "more", id: "diff-more", hidden: true }, "Load more");
    diffResult.replaceChildren(summary, el("table", { class: "diff" },
      el("thead", {}, el("tr", {}, el("th", {}, "Kind"), el("th", {}, "Change"), el("th", {}, "Name"),
        el("th", {}, "Version"), el("th", {}, "uuid"))), list), next);
    const page = async () => {
      next.hidden = true;
      try {
        const response = await api.request(`/datasets/${d}/diff`, { signal, query: {
          from: from || undefined, to: mine.pinned || to || undefined,
          after: mine.after || undefined, limit: DIFF_PAGE } });
        const items = await response.json();
        if (diff !== mine) return;
        mine.pinned = mine.pinned || response.headers.get("Gonk-Diff-To");
        for (const change of items) {
          list.append(changeRow(change));
          const k = (mine.counts[change.kind] ||= { added: 0, removed: 0, changed: 0 });
          k[change.change] += 1;
        }
        if (items.length) mine.after = items[items.length - 1].uuid;
        mine.done = items.length < DIFF_PAGE;
        next.hidden = mine.done;
        summary.replaceChildren(summaryText(mine), mine.pinned ? el("span", { class: "muted small" },
          ` (up to event `, el("code", { title: mine.pinned }, mine.pinned.slice(0, 8)), ")") : null);
      } catch (e) {
        if (e.name === "AbortError" || diff !== mine) return;
        summary.replaceChildren(errorBox(e, "Not compared"));
      }
    };
    next.addEventListener("click", page);
    await page();
  }

  function changeRow(change) {
    const side = change.to || change.from;
    const version = change.from && change.to ? `v${change.from.version} → v${change.to.version}`
      : `v${side.version}`;
    const name = side.name ?? "";
    return el("tr", { class: `change ${change.change}`, "data-uuid": change.uuid, "data-kind": change.kind },
      el("td", {}, change.kind), el("td", {}, el("span", { class: `badge ${badgeOf(change.change)}` }, change.change)),
      el("td", {}, change.kind === "object"
        ? el("a", { href: `#/d/${d}/o/${change.uuid}/${side.version}` }, name) : name),
      el("td", {}, version), el("td", {}, el("code", { class: "small", title: change.uuid }, change.uuid.slice(0, 8))));
  }

  await loadMore();
  // open with a useful comparison: what the address asks, else the latest release to now
  const q = ctx.query;
  if (q.has("compare") || q.has("from") || q.has("to")) {
    fromInput.value = q.get("from") || ""; toInput.value = q.get("to") || "";
    compare(fromInput.value, toInput.value);
  } else if (releases.length) {
    fromInput.value = releases[releases.length - 1].name;
  }
}

function summaryText(diff) {
  const parts = ["schema", "object", "annotation"].map((kind) => {
    const k = diff.counts[kind] || { added: 0, removed: 0, changed: 0 };
    return `${kind}s: ${k.added} added, ${k.removed} removed, ${k.changed} changed`;
  });
  return (diff.done ? "" : "So far: ") + parts.join("; ");
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function badgeOf(change) {
  return change === "added" ? "accepted" : change === "removed" ? "deleted" : "pending";
}

export function size(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024, i = 0;
  while (value >= 1024 && i < units.length - 1) { value /= 1024; i += 1; }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[i]}`;
}

function filename(disposition) {
  const match = disposition && disposition.match(/filename="([^"]+)"/);
  return match ? match[1] : null;
}

// a response's body as a Blob, reporting the bytes received as they come
async function readAll(response, onProgress) {
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  let last = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    if (received - last > 1 << 20) { last = received; onProgress(received); }
  }
  return new Blob(chunks, { type: response.headers.get("Content-Type") || "application/octet-stream" });
}

// the manifest streams with its 200 sent first: a server failing halfway ends it early, so its
// bytes are checked against the release's manifest_sha256 (when the browser offers WebCrypto)
async function checkManifest(blob, expected) {
  if (!globalThis.crypto || !crypto.subtle) return;
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== expected) {
    throw new Error(`The manifest received is not the release's (sha256 ${hex.slice(0, 12)}…, `
      + `expected ${expected.slice(0, 12)}…): the transfer was cut. Try again.`);
  }
}
