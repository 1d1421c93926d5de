// #/d/<name>: a dataset's objects as a grid, filtered by status (the status lists) or searched
// by name (?prefix= on the object list), loaded 100 at a time as the user scrolls.
//
// The DOM stays bounded however far one scrolls: at most LIVE_PAGES pages of tiles exist; a page
// far from the view is replaced by an empty block of its height (its thumbnails' blob: URLs
// revoked) and drawn again from memory when it comes back into view. Thumbnails and names are
// fetched only for tiles in view (IntersectionObserver), a few at a time.

import * as api from "../api.js";
import { el, crumbs, errorBox, isImage } from "../ui.js";

const PAGE = 100;
const LIVE_PAGES = 5;
const PARALLEL = 6;
const STATUSES = ["accepted", "pending", "rejected", "deleted"];

export async function render(root, { dataset }, ctx) {
  const d = api.enc(dataset);
  crumbs({ text: "Datasets", href: "#/datasets" }, { text: dataset });
  let status = STATUSES.includes(ctx.query.get("status")) ? ctx.query.get("status") : "";
  let prefix = status ? "" : (ctx.query.get("q") || "");

  const select = el("select", { id: "status", name: "status" },
    el("option", { value: "" }, "All objects"),
    ...STATUSES.map((s) => el("option", { value: s }, s[0].toUpperCase() + s.slice(1))));
  select.value = status;
  const search = el("input", { id: "search", type: "search", name: "q", value: prefix,
    placeholder: "Name starts with…", autocomplete: "off" });
  const hint = el("span", { class: "muted small", id: "search-hint" });
  const summary = el("p", { class: "muted", id: "summary", "aria-live": "polite" });
  const pagesBox = el("div", { class: "pages" });
  const sentinel = el("div", { class: "sentinel", "aria-hidden": "true" });
  const more = el("button", { type: "button", class: "more", hidden: true }, "Load more");
  const toolbar = el("form", { class: "toolbar", role: "search" },
    el("label", { for: "status" }, "Status"), select,
    el("label", { for: "search" }, "Search"), search, hint);
  toolbar.addEventListener("submit", (e) => e.preventDefault());
  // the work queue: lease the next object to annotate against a schema, and open it
  const schemaSelect = el("select", { id: "annotate-schema", "aria-label": "Schema to annotate against" });
  const annotateButton = el("button", { type: "submit", id: "claim-annotate" }, "Next to annotate");
  const annotateNote = el("span", { id: "annotate-note", class: "small muted", "aria-live": "polite" });
  const annotateBox = el("form", { class: "toolbar", id: "annotate-form", hidden: true },
    el("label", { for: "annotate-schema" }, "Annotate"), schemaSelect, annotateButton, annotateNote);
  api.json(`/datasets/${d}/schemas`, { signal: ctx.signal }).then((schemas) => {
    if (schemas.length === 0) return;
    schemaSelect.replaceChildren(...schemas.map((x) => el("option", { value: x.name }, x.name)));
    annotateBox.hidden = false;
  }, () => {});
  annotateBox.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const got = await api.json(`/datasets/${d}/queue/claim`, { method: "POST",
        body: { task: "annotate", schema: schemaSelect.value }, signal: ctx.signal });
      if (!got.lease) { annotateNote.textContent = "Nothing left to annotate against this schema."; return; }
      const o = got.item.object;
      location.hash = `#/d/${d}/o/${o.uuid}/${o.version}?lease=${got.lease.id}`;
    } catch (err) {
      if (err.name !== "AbortError") annotateNote.replaceChildren(errorBox(err, "Not claimed"));
    }
  });
  root.replaceChildren(el("h1", {}, dataset),
    el("nav", { class: "tabs", "aria-label": `${dataset}'s pages` },
      el("a", { href: `#/d/${d}/review`, id: "review-link" }, "Review"),
      el("a", { href: `#/d/${d}/releases`, id: "releases-link" }, "Releases"),
      el("a", { href: `#/d/${d}/members`, id: "members-link" }, "Members"),
      el("a", { href: `#/d/${d}/log`, id: "log-link" }, "Log")),
    toolbar, annotateBox, summary, pagesBox, sentinel, more);

  const meta = new Map(); // "uuid/version" -> {name, format}: names of status-list entries
  const queue = []; // tiles waiting for their metadata and thumbnail
  let running = 0;
  let list = null; // the current listing

  const tileObserver = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const tile = entry.target;
      if (entry.isIntersecting) {
        if (!tile._loaded && !tile._queued) { tile._queued = true; queue.push(tile); pump(); }
      } else if (tile._queued && !tile._loaded) {
        tile._queued = false; // left the view before its turn: not fetched
        const i = queue.indexOf(tile);
        if (i >= 0) queue.splice(i, 1);
      }
    }
  }, { rootMargin: "200px 0px" });

  const pageObserver = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const section = entry.target;
      if (entry.isIntersecting && section._page && !section._page.live) revive(section._page);
    }
  }, { rootMargin: "400px 0px" });

  const bottomObserver = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadNext();
  }, { rootMargin: "600px 0px" });
  bottomObserver.observe(sentinel);
  more.addEventListener("click", () => loadNext());

  ctx.onLeave(() => {
    tileObserver.disconnect(); pageObserver.disconnect(); bottomObserver.disconnect();
    queue.length = 0;
    for (const page of list ? list.pages : []) release(page);
  });

  function pump() {
    while (running < PARALLEL && queue.length > 0) {
      const tile = queue.shift();
      if (!tile.isConnected) continue;
      running += 1;
      fill(tile).finally(() => { running -= 1; pump(); });
    }
  }

  async function fill(tile) {
    const { uuid, version } = tile._item;
    const key = `${uuid}/${version}`;
    const controller = new AbortController();
    tile._abort = controller;
    const signal = controller.signal;
    try {
      // a name from the list that says "image" is enough to ask for the thumbnail at once (one
      // request a tile instead of two: bench/webapp.py); other tiles need the version's format
      let info = meta.get(key) || (tile._item.name && isImage(tile._item.name)
        ? { name: tile._item.name, format: "" } : null);
      if (!info) {
        const loaded = await api.json(`/datasets/${d}/objects/${uuid}/${version}`,
          { query: { bytes: "false" }, signal });
        info = { name: loaded.object.name, format: loaded.object.format };
        meta.set(key, info);
      }
      tile._name.textContent = info.name;
      tile.title = info.name;
      tile.setAttribute("aria-label", `${info.name}, version ${version}`);
      if (isImage(info.name, info.format)) {
        try {
          const src = await api.blobUrl(`/datasets/${d}/objects/${uuid}/${version}/thumbnail`,
            { query: { size: 256 }, signal });
          if (!tile.isConnected || signal.aborted) { URL.revokeObjectURL(src); return; }
          tile._url = src;
          tile._thumb.replaceChildren(el("img", { src, alt: "", decoding: "async" }));
        } catch (e) {
          if (e.name === "AbortError") return;
          // 415: not an image the server can read (a corrupt file): its type, as for others
          tile._thumb.replaceChildren(icon(info, e.status === 415 ? "" : "!"));
          if (e.status !== 415) tile._thumb.title = e.message;
        }
      } else {
        tile._thumb.replaceChildren(icon(info));
      }
      tile._loaded = true;
      tileObserver.unobserve(tile);
    } catch (e) {
      if (e.name === "AbortError") return;
      tile._name.textContent = "(not loaded)";
      tile._thumb.replaceChildren(el("span", { class: "icon error-text" }, "!"));
      tile.title = e.message;
      tile._loaded = true;
    }
  }

  function icon(info, mark = "") {
    const ext = (info.name.match(/\.([A-Za-z0-9]{1,5})$/) || [, (info.format || "?").split("/").pop()])[1];
    return el("span", { class: "icon", "aria-hidden": "true" }, mark || ext.toUpperCase().slice(0, 5));
  }

  function makeTile(item) {
    const version = item.version ?? item.versions - 1;
    const thumb = el("span", { class: "thumb" }, el("span", { class: "icon placeholder" }, ""));
    const name = el("span", { class: "name" }, item.name ?? item.uuid.slice(0, 8) + "…");
    const tile = el("a", { class: "tile", href: `#/d/${d}/o/${item.uuid}/${version}`,
      "data-uuid": item.uuid, "data-version": version }, thumb, name);
    tile._item = { uuid: item.uuid, version, name: item.name };
    tile._thumb = thumb;
    tile._name = name;
    if (item.name) tile.title = item.name;
    tileObserver.observe(tile);
    return tile;
  }

  function build(page) {
    const grid = el("div", { class: "grid" }, page.items.map(makeTile));
    page.section.style.height = "";
    page.section.replaceChildren(grid);
    page.live = true;
  }

  function release(page) {
    for (const tile of page.section.querySelectorAll(".tile")) {
      tileObserver.unobserve(tile);
      if (tile._abort) tile._abort.abort();
      if (tile._url) URL.revokeObjectURL(tile._url);
      tile._url = null;
    }
  }

  function retire(page) {
    const height = page.section.getBoundingClientRect().height;
    release(page);
    page.section.style.height = `${height}px`;
    page.section.replaceChildren();
    page.live = false;
  }

  function revive(page) {
    build(page);
    trim(page);
  }

  // keep at most LIVE_PAGES pages of tiles: retire the live ones farthest from `keep`
  function trim(keep) {
    const live = list.pages.filter((p) => p.live);
    const at = list.pages.indexOf(keep);
    live.sort((a, b) => Math.abs(list.pages.indexOf(b) - at) - Math.abs(list.pages.indexOf(a) - at));
    while (live.length > LIVE_PAGES) retire(live.shift());
  }

  async function loadNext() {
    const current = list;
    if (!current || current.loading || current.done) return;
    current.loading = true;
    more.hidden = true;
    try {
      const path = status ? `/datasets/${d}/objects/${status}` : `/datasets/${d}/objects`;
      const { items, next } = await api.page(path,
        { after: current.next ?? undefined, limit: PAGE, query: { prefix: prefix || undefined },
          signal: ctx.signal });
      if (current !== list) return;
      current.count += items.length;
      current.next = next;
      current.done = next === null;
      if (items.length > 0) {
        const section = el("section", { class: "page", "aria-label":
          `Objects ${current.count - items.length + 1} to ${current.count}` });
        const page = { items, section, live: false };
        section._page = page;
        current.pages.push(page);
        pagesBox.append(section);
        build(page);
        pageObserver.observe(section);
        trim(page);
      }
      summary.textContent = current.count === 0
        ? (prefix ? `No object's name starts with “${prefix}”.` : status
          ? `No ${status} object.` : "No object yet.")
        : `${current.count}${current.done ? "" : "+"} ${status ? `${status} versions`
          : "objects"}${prefix ? ` whose name starts with “${prefix}”` : ""}`;
      current.loading = false;
      // still room below (a tall window): the sentinel may not fire again by itself
      if (!current.done) {
        more.hidden = false;
        requestAnimationFrame(() => {
          const r = sentinel.getBoundingClientRect();
          if (r.top < window.innerHeight + 600) loadNext();
        });
      }
    } catch (e) {
      current.loading = false;
      if (e.name === "AbortError" || current !== list) return;
      pagesBox.append(errorBox(e, "Objects could not be loaded"));
      more.hidden = false;
    }
  }

  function restart() {
    if (list) for (const page of list.pages) release(page);
    queue.length = 0;
    list = { pages: [], next: null, done: false, loading: false, count: 0 };
    pagesBox.replaceChildren();
    summary.textContent = "Loading…";
    search.disabled = Boolean(status);
    hint.textContent = status ? "Search applies to all objects (not a status list)." : "";
    ctx.setQuery({ status, q: prefix });
    loadNext();
  }

  select.addEventListener("change", () => {
    status = select.value;
    if (status) { prefix = ""; search.value = ""; }
    restart();
  });
  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (search.value === prefix) return;
      prefix = search.value;
      restart();
    }, 250);
  });
  ctx.onLeave(() => clearTimeout(timer));
  restart();
}
