// #/d/<name>/review: the review inbox. The changes that await review (GET .../events?pending=true)
// in log order, loaded 100 at a time as the reviewer works through them; the current one shown
// beside the list with what it changes:
//   a new object or schema       its preview (a thumbnail, the start of a text, a schema's JSON)
//   an update                    the previous version and the new one side by side
//   a new or updated annotation  drawn on its object's image (both versions for an update),
//                                or its JSON (lines that differ marked)
//   a deletion                   what would be deleted
// Owners and reviewers accept and reject with the buttons or the keys: a accept, r reject, j/k
// next/previous (the arrow keys are left to scrolling), x select; with changes selected, a and r
// decide all of them (in log order); a held key decides once. A decided change leaves the list
// and the next one is shown. Everyone else (GET /datasets/<d>'s `access`: annotator, viewer)
// sees the same inbox without the means to decide (the server would answer 403).

import * as api from "../api.js";
import { el, crumbs, errorBox, isImage, when } from "../ui.js";
import { drawAnnotation, drawable, kindOf, showImage } from "../draw.js";
import { statuses } from "./object.js";

const PAGE = 100;
const REFILL_BELOW = 20; // load the next page when fewer changes than this follow the current
const TEXT_PREVIEW = 64 * 1024; // bytes of a text file shown
const TEXTUAL = /^(text\/|application\/(json|xml|x-yaml|yaml|csv|x-ndjson|jsonl|schema\+json)|.*\+(json|xml)$)/;

export async function render(root, { dataset }, ctx) {
  const d = api.enc(dataset);
  const signal = ctx.signal;
  crumbs({ text: "Datasets", href: "#/datasets" }, { text: dataset, href: `#/d/${d}` },
    { text: "Review" });

  const [info, owners, schemaList] = await Promise.all([
    api.json(`/datasets/${d}`, { signal }), // `access`: what the signed-in user may do here
    api.json(`/datasets/${d}/owners`, { signal }),
    api.json(`/datasets/${d}/schemas`, { signal }), // every schema, in one answer
  ]);
  const canDecide = info.access === "owner" || info.access === "reviewer";
  const schemaNames = new Map(schemaList.map((s) => [s.uuid, s.name]));

  // --- the page's parts ---
  const acceptButton = el("button", { type: "button", class: "primary", id: "accept",
    "aria-keyshortcuts": "a" }, "Accept");
  const rejectButton = el("button", { type: "button", class: "danger", id: "reject",
    "aria-keyshortcuts": "r" }, "Reject");
  const selectAll = el("button", { type: "button", id: "select-all" }, "Select all loaded");
  const clearSelection = el("button", { type: "button", id: "select-none" }, "Select none");
  const progress = el("span", { id: "review-progress", class: "muted small", "aria-live": "polite" });
  const summary = el("p", { id: "review-summary", class: "muted", "aria-live": "polite" });
  const queueList = el("ol", { id: "queue", class: "queue", "aria-label": "Changes awaiting review" });
  const more = el("button", { type: "button", class: "more", id: "more", hidden: true }, "Load more");
  const detail = el("section", { id: "detail", class: "detail", "aria-label": "The change" });
  const decidedList = el("ol", { id: "decided", class: "decided" });
  const decidedBox = el("details", { class: "decided-box", hidden: true },
    el("summary", { id: "decided-summary" }, "Decided here"), decidedList);
  const keys = el("p", { class: "muted small keys" },
    canDecide ? [el("kbd", {}, "j"), "/", el("kbd", {}, "k"), " next/previous · ", el("kbd", {}, "x"),
      " select · ", el("kbd", {}, "a"), " accept · ", el("kbd", {}, "r"),
      " reject (the selected changes, else the one shown)"]
      : [el("kbd", {}, "j"), "/", el("kbd", {}, "k"), " next/previous"]);
  // the work queue: lease the next change nobody else holds (others' claims pass over it)
  const claimButton = el("button", { type: "button", id: "claim-next",
    title: "Lease the oldest change nobody holds: other reviewers' claims pass over it" },
    "Next to review");
  const leaseNote = el("span", { id: "lease-note", class: "small muted", "aria-live": "polite" });
  const toolbar = el("div", { class: "toolbar review-toolbar" },
    canDecide ? [acceptButton, rejectButton, selectAll, clearSelection, claimButton] : null,
    progress, leaseNote);
  const notOwner = canDecide ? null : el("p", { class: "notice", id: "not-owner" },
    `You (${ctx.user}) are ${info.access === "annotator" ? "an" : "a"} ${info.access} of `
    + `${dataset}: only its owners (${owners.join(", ")}) and reviewers accept or reject `
    + "changes. You can look through what waits.");
  const fourEyes = canDecide && info.require_other_reviewer ? el("p", { class: "notice small",
    id: "four-eyes" }, "This dataset requires another reviewer: you cannot accept a change you "
    + "proposed yourself (rejecting it is allowed).") : null;
  root.replaceChildren(...[el("h1", {}, `${dataset}: review`), notOwner, fourEyes, toolbar, keys, summary,
    el("div", { class: "review-layout" },
      el("div", { class: "queue-box" }, queueList, more, decidedBox), detail)].filter(Boolean));

  // --- the queue ---
  const queue = []; // {event, row, box}: the changes still awaiting review, in log order
  const selected = new Set(); // event uuids
  const models = new Map(); // event uuid -> Promise of what the detail shows (fetched once)
  let current = -1; // index in queue
  let after = null; // the cursor of the next page (the last event received)
  let done = false;
  let loading = null;
  let busy = false; // a decision is being sent
  let decidedCount = { accepted: 0, rejected: 0, elsewhere: 0 };
  let shown = null; // {uuid, controller, cleanups}

  async function loadMore() {
    if (done) return;
    if (loading) return loading;
    loading = (async () => {
      more.hidden = true;
      try {
        const { items, next } = await api.page(`/datasets/${d}/events`,
          { after: after ?? undefined, limit: PAGE, query: { pending: "true" }, signal });
        const known = new Set(queue.map((q) => q.event.uuid));
        for (const event of items) if (!known.has(event.uuid)) addRow(event);
        if (items.length > 0) after = items[items.length - 1].uuid;
        done = next === null;
      } catch (e) {
        if (e.name === "AbortError") return; // the page was left
        for (const old of queueList.parentNode.querySelectorAll(":scope > .error")) old.remove();
        queueList.after(errorBox(e, "The pending changes could not be loaded"));
      } finally {
        more.hidden = done;
        loading = null;
        updateSummary();
      }
    })();
    return loading;
  }
  more.addEventListener("click", () => loadMore().then(() => { if (current < 0) show(0); }));

  function addRow(event) {
    const box = canDecide ? el("input", { type: "checkbox", class: "pick",
      "aria-label": `Select ${describe(event).title}` }) : null;
    const row = el("li", { class: "change", "data-event": event.uuid, "data-type": event.type },
      box, el("button", { type: "button", class: "pick-row" },
        el("span", { class: `kind ${verb(event)}` }, verb(event)), " ",
        el("span", { class: "what" }, describe(event).title), el("br"),
        el("span", { class: "muted small" }, `${event.author} · ${when(event.timestamp)}`)));
    const item = { event, row, box };
    row.querySelector(".pick-row").addEventListener("click", () => show(queue.indexOf(item)));
    if (box) {
      box.addEventListener("change", () => {
        if (box.checked) selected.add(event.uuid); else selected.delete(event.uuid);
        row.classList.toggle("selected", box.checked);
        updateButtons();
      });
    }
    queue.push(item);
    queueList.append(row);
  }

  function updateSummary() {
    const n = queue.length;
    summary.textContent = n === 0 && done ? "Nothing awaits review."
      : `${n}${done ? "" : "+"} change${n === 1 ? "" : "s"} awaiting review`
        + (current >= 0 ? ` · showing ${current + 1} of ${n}${done ? "" : "+"}` : "");
    updateButtons();
  }

  function updateButtons() {
    const n = selected.size;
    acceptButton.textContent = n ? `Accept ${n} selected` : "Accept";
    rejectButton.textContent = n ? `Reject ${n} selected` : "Reject";
    const nothing = busy || (n === 0 && current < 0);
    acceptButton.disabled = nothing;
    rejectButton.disabled = nothing;
    selectAll.disabled = busy || queue.length === 0;
    clearSelection.disabled = busy || n === 0;
  }

  // --- the change shown ---
  async function show(index) {
    if (queue.length === 0) {
      current = -1;
      clearDetail();
      const again = el("button", { type: "button", id: "check-again" }, "Check for new changes");
      again.addEventListener("click", async () => {
        done = false;
        await loadMore();
        show(0);
      });
      detail.replaceChildren(...[el("p", { class: "empty" }, done ? "Nothing awaits review."
        : "Loading…"), done ? el("p", { class: "again" }, again) : null].filter(Boolean));
      updateSummary();
      return;
    }
    index = Math.max(0, Math.min(index, queue.length - 1));
    if (queue[current]) queue[current].row.classList.remove("current");
    if (queue[current]) queue[current].row.removeAttribute("aria-current");
    current = index;
    const item = queue[current];
    item.row.classList.add("current");
    item.row.setAttribute("aria-current", "true");
    item.row.scrollIntoView({ block: "nearest" });
    updateSummary();
    if (!shown || shown.uuid !== item.event.uuid) renderDetail(item.event);
    if (!done && queue.length - current <= REFILL_BELOW) loadMore();
    for (const next of queue.slice(current + 1, current + 3)) model(next.event); // prefetch
  }

  function clearDetail() {
    if (!shown) return;
    shown.controller.abort();
    for (const fn of shown.cleanups.splice(0)) fn();
    shown = null;
  }

  async function renderDetail(event) {
    clearDetail();
    const controller = new AbortController();
    const mine = { uuid: event.uuid, controller, cleanups: [] };
    shown = mine;
    const info = describe(event);
    const header = el("header", {},
      el("h2", { id: "detail-title", "aria-live": "polite" }, info.title),
      el("p", { class: "muted small" }, `${event.type} by ${event.author}, ${when(event.timestamp)} · event `,
        el("code", { title: event.uuid }, event.uuid.slice(0, 8))));
    const body = el("div", { class: "detail-body" }, el("p", { class: "muted" }, "Loading…"));
    detail.replaceChildren(header, body);
    try {
      const m = await model(event);
      if (shown !== mine) return;
      const parts = await renderModel(m, { signal: controller.signal,
        onLeave: (fn) => (controller.signal.aborted ? fn() : mine.cleanups.push(fn)) });
      if (shown !== mine) { for (const fn of mine.cleanups.splice(0)) fn(); return; }
      body.replaceChildren(...parts);
    } catch (e) {
      if (e.name === "AbortError" || shown !== mine) return;
      body.replaceChildren(errorBox(e, "This change could not be shown"));
    }
  }

  // what an event concerns, as words (before anything is fetched)
  function describe(event) {
    if (event.object) {
      const schema = schemaNames.has(event.object.uuid) || event.object.format === "application/schema+json";
      const what = schema ? "schema" : "object";
      return event.type === "ObjectCreateEvent"
        ? { title: `New ${what} ${event.object.name}`, kind: what }
        : { title: `${cap(what)} ${event.object.name}: v${event.object.version - 1} → v${event.object.version}`, kind: what };
    }
    if (event.object_identifier) {
      const id = event.object_identifier;
      const name = schemaNames.get(id.uuid);
      return name ? { title: `Delete schema ${name} v${id.version}`, kind: "schema" }
        : { title: `Delete object ${id.uuid.slice(0, 8)} v${id.version}`, kind: "object" };
    }
    if (event.annotation) {
      const schema = schemaNames.get(event.annotation.schema.uuid) || "a schema";
      return event.type === "AnnotationCreateEvent"
        ? { title: `New annotation (${schema})`, kind: "annotation" }
        : { title: `Annotation ${event.annotation.uuid.slice(0, 8)} (${schema}): v${event.annotation.version - 1} → v${event.annotation.version}`, kind: "annotation" };
    }
    if (event.annotation_identifier) {
      const id = event.annotation_identifier;
      return { title: `Delete annotation ${id.uuid.slice(0, 8)} v${id.version}`, kind: "annotation" };
    }
    return { title: event.type, kind: "other" };
  }

  // --- fetching what a change shows (cached per event, prefetched for the next ones) ---
  const versionLoads = new Map();
  function loadVersion(kind, id, version) {
    const key = `${kind}/${id}/${version}`;
    if (versionLoads.size > 200) versionLoads.clear(); // bounded: annotations carry their bytes
    if (!versionLoads.has(key)) {
      const path = kind === "schema" ? `/datasets/${d}/schemas/${api.enc(id)}/${version}`
        : `/datasets/${d}/${kind === "object" ? "objects" : "annotations"}/${id}/${version}`;
      const promise = api.json(path, { query: kind === "annotation" ? {} : { bytes: "false" }, signal });
      promise.catch(() => versionLoads.delete(key));
      versionLoads.set(key, promise);
    }
    return versionLoads.get(key);
  }

  async function sideOfItem(kind, uuid, version) {
    if (version < 0) return null;
    if (kind === "schema") {
      const name = schemaNames.get(uuid);
      const loaded = await loadVersion("schema", name, version);
      const text = await (await api.request(`/datasets/${d}/schemas/${api.enc(name)}/${version}/bytes`,
        { signal })).text();
      return { kind, uuid, version, item: loaded.schema, events: loaded.events, text: pretty(text) };
    }
    if (kind === "object") {
      const loaded = await loadVersion("object", uuid, version);
      const side = { kind, uuid, version, item: loaded.object, events: loaded.events };
      if (!isImage(loaded.object.name, loaded.object.format) && TEXTUAL.test(loaded.object.format)) {
        const response = await api.request(`/datasets/${d}/objects/${uuid}/${version}/bytes`, { signal });
        side.text = await firstBytes(response, TEXT_PREVIEW);
        side.cut = loaded.object.size > TEXT_PREVIEW;
      }
      return side;
    }
    // an annotation: its document and the objects it is attached to
    const loaded = await loadVersion("annotation", uuid, version);
    const doc = api.decodeJson(loaded.bytes);
    const objects = await Promise.all(loaded.objects.map(async (o) => {
      try {
        return { ...o, object: (await loadVersion("object", o.uuid, o.version)).object };
      } catch (e) {
        if (e.name === "AbortError") throw e;
        return { ...o, error: e };
      }
    }));
    return { kind, uuid, version, item: loaded.annotation, events: loaded.events, doc, objects };
  }

  function model(event) {
    if (!models.has(event.uuid)) {
      const promise = (async () => {
        const info = describe(event);
        if (event.object) {
          if (schemaNames.has(event.object.uuid) === false && info.kind === "schema") {
            // a schema created after the list was read: read the names again
            for (const s of await api.json(`/datasets/${d}/schemas`, { signal })) schemaNames.set(s.uuid, s.name);
          }
          const kind = schemaNames.has(event.object.uuid) ? "schema" : "object";
          const v = event.object.version;
          const [before, after] = await Promise.all([
            event.type === "ObjectUpdateEvent" ? sideOfItem(kind, event.object.uuid, v - 1) : null,
            sideOfItem(kind, event.object.uuid, v)]);
          return { event, mode: before ? "update" : "create", before, after };
        }
        if (event.object_identifier) {
          const id = event.object_identifier;
          const kind = schemaNames.has(id.uuid) ? "schema" : "object";
          return { event, mode: "delete", after: await sideOfItem(kind, id.uuid, id.version) };
        }
        if (event.annotation) {
          const v = event.annotation.version;
          const [before, after] = await Promise.all([
            event.type === "AnnotationUpdateEvent" ? sideOfItem("annotation", event.annotation.uuid, v - 1) : null,
            sideOfItem("annotation", event.annotation.uuid, v)]);
          return { event, mode: before ? "update" : "create", before, after };
        }
        if (event.annotation_identifier) {
          const id = event.annotation_identifier;
          return { event, mode: "delete", after: await sideOfItem("annotation", id.uuid, id.version) };
        }
        return { event, mode: "other" };
      })();
      promise.catch(() => models.delete(event.uuid));
      models.set(event.uuid, promise);
    }
    return models.get(event.uuid);
  }

  // --- drawing what was fetched ---
  async function renderModel(m, scope) {
    if (m.mode === "other") {
      return [el("pre", { class: "json" }, JSON.stringify(m.event, null, 2))];
    }
    const better = fullTitle(m);
    if (better) {
      const title = document.getElementById("detail-title");
      if (title) title.textContent = better;
      const row = queue.find((q) => q.event.uuid === m.event.uuid);
      if (row) row.row.querySelector(".what").textContent = better;
    }
    if (m.mode === "update") {
      const [before, after] = await Promise.all([
        renderSide(m.before, "Before", scope, m.after), renderSide(m.after, "After", scope, m.before)]);
      return [el("div", { class: "sides" }, before, after)];
    }
    const label = m.mode === "delete" ? "To be deleted" : "New";
    return [el("div", { class: `sides single ${m.mode}` }, await renderSide(m.after, label, scope, null))];
  }

  // the title once the names are known: a deleted object's name, an annotation's objects
  function fullTitle(m) {
    const a = m.after;
    if (!a) return null;
    if (a.kind === "object" && m.mode === "delete") return `Delete object ${a.item.name} v${a.version}`;
    if (a.kind !== "annotation") return null;
    const on = a.objects.map((o) => o.object ? o.object.name : o.uuid.slice(0, 8)).join(", ");
    return `${describe(m.event).title} on ${on}`;
  }

  async function renderSide(side, label, scope, other) {
    const box = el("figure", { class: "side-box", "data-side": label.toLowerCase().replace(/ /g, "-") });
    const links = side.kind === "object"
      ? el("a", { href: `#/d/${d}/o/${side.uuid}/${side.version}` }, `v${side.version}`)
      : el("span", {}, `v${side.version}`);
    const badgeList = statuses(side.events.map((e) => ({ ...e,
      type: e.type.replace(/^Annotation/, "Object") })));
    box.append(el("figcaption", {}, el("strong", {}, label), " ", links, " ",
      badgeList.map((s) => el("span", { class: `badge ${s}` }, s))));
    if (side.kind === "schema") {
      box.append(textBlock(side.text, other && other.text));
      return box;
    }
    if (side.kind === "object") {
      const o = side.item;
      box.append(el("p", { class: "muted small" }, `${o.name} · ${o.format} · ${o.size} bytes`));
      if (isImage(o.name, o.format)) {
        const holder = el("div", { class: "preview" });
        box.append(holder);
        try {
          const src = await api.blobUrl(`/datasets/${d}/objects/${side.uuid}/${side.version}/thumbnail`,
            { query: { size: 512 }, signal: scope.signal });
          scope.onLeave(() => URL.revokeObjectURL(src));
          holder.append(el("img", { src, alt: o.name, class: "thumbnail" }));
        } catch (e) {
          if (e.name === "AbortError") throw e;
          holder.append(errorBox(e, "No preview"));
        }
      } else if (side.text !== undefined) {
        box.append(textBlock(side.text, other && other.text, side.cut));
      } else {
        box.append(el("div", { class: "nonimage" }, el("span", { class: "icon big", "aria-hidden": "true" },
          (o.name.match(/\.([A-Za-z0-9]{1,5})$/) || [, "FILE"])[1].toUpperCase())));
      }
      return box;
    }
    // an annotation: drawn over each image it is attached to, else its JSON
    const kind = kindOf(side.doc);
    box.append(el("p", { class: "muted small" }, `${schemaNames.get(side.item.schema.uuid) || "schema"}`
      + ` v${side.item.schema.version} · ${kind || "JSON"} · on `,
      side.objects.flatMap((o, i) => [i ? ", " : "", el("a", { href: `#/d/${d}/o/${o.uuid}/${o.version}` },
        o.object ? `${o.object.name} v${o.version}` : `${o.uuid.slice(0, 8)} v${o.version}`)])));
    if (drawable(side.doc)) {
      for (const o of side.objects) {
        if (o.error) { box.append(errorBox(o.error, "Its object could not be read")); continue; }
        if (!isImage(o.object.name, o.object.format)) continue;
        const holder = el("div", { class: "preview drawn" });
        box.append(holder);
        try {
          const src = await imageOf(o.uuid, o.version, scope);
          const stage = await showImage(holder, src, o.object.name);
          scope.onLeave(stage.stop);
          drawAnnotation(stage.layer, `${side.uuid}/${side.version}`, side.doc);
        } catch (e) {
          if (e.name === "AbortError") throw e;
          holder.replaceChildren(errorBox(e.status ? e : new Error("The browser cannot show this image."),
            "The image could not be shown"));
        }
      }
      const labels = (side.doc.boxes || side.doc.instances || []).map((s) => s.label);
      box.append(el("p", { class: "small labels" }, `${labels.length} shape${labels.length === 1 ? "" : "s"}: `,
        [...new Set(labels)].map((l) => el("span", { class: "chip" }, `${l} ×${labels.filter((x) => x === l).length}`))));
    }
    const text = JSON.stringify(side.doc, null, 2);
    const otherText = other && other.doc !== undefined ? JSON.stringify(other.doc, null, 2) : null;
    box.append(el("details", { open: !drawable(side.doc) }, el("summary", {}, "JSON"),
      textBlock(text, otherText)));
    return box;
  }

  // an object version's full image, fetched once per shown change (both sides of an update share it)
  async function imageOf(uuid, version, scope) {
    scope.images = scope.images || new Map();
    const key = `${uuid}/${version}`;
    if (!scope.images.has(key)) {
      const promise = api.blobUrl(`/datasets/${d}/objects/${uuid}/${version}/bytes`, { signal: scope.signal });
      scope.images.set(key, promise);
      promise.then((src) => scope.onLeave(() => URL.revokeObjectURL(src)), () => {});
    }
    return scope.images.get(key);
  }

  // --- deciding ---
  async function decide(decision) {
    if (!canDecide || busy) return;
    const targets = selected.size
      ? queue.filter((q) => selected.has(q.event.uuid)) : (queue[current] ? [queue[current]] : []);
    if (targets.length === 0) return;
    busy = true;
    updateButtons();
    // where to go afterwards: the change shown, or the first after it still waiting
    const startUuid = queue[current] ? queue[current].event.uuid : null;
    const fromShown = current >= 0 ? queue.slice(current).map((q) => q.event.uuid) : [];
    let n = 0;
    let sent = 0;
    for (const item of targets) {
      n += 1;
      progress.textContent = targets.length > 1
        ? `${decision === "accept" ? "Accepting" : "Rejecting"} ${n} of ${targets.length}…` : "";
      for (const old of item.row.querySelectorAll(".error")) old.remove();
      item.row.classList.add("deciding");
      try {
        await api.request(`/datasets/${d}/events/${item.event.uuid}/${decision}`, { method: "PUT", signal });
        decided(item, decision === "accept" ? "accepted" : "rejected");
        sent += 1;
      } catch (e) {
        item.row.classList.remove("deciding");
        if (e.name === "AbortError") return;
        if (e.status === 409) { // reviewed meanwhile (by another owner, another tab)
          decided(item, "elsewhere", e.message);
          continue;
        }
        item.row.append(errorBox(e, `Not ${decision}ed`));
        if (e.status === 401 || e.status === 403) break;
      }
    }
    busy = false;
    progress.textContent = targets.length > 1 ? `${sent} of ${targets.length} decided.` : "";
    // the reviewer moved on by themselves meanwhile (j/k): stay where they are
    if (current >= 0 && queue[current].event.uuid !== startUuid) { updateButtons(); return; }
    // else move on: the change shown if it is still waiting, or the first after it that is
    const waiting = new Map(queue.map((q, i) => [q.event.uuid, i]));
    const after = fromShown.find((uuid) => waiting.has(uuid));
    let next = after !== undefined ? waiting.get(after) : queue.length - 1;
    if (queue.length === 0 && !done) { await loadMore(); next = 0; }
    await show(Math.max(next, 0));
    updateButtons();
  }

  function decided(item, outcome, message = "") {
    const i = queue.indexOf(item);
    if (i >= 0) queue.splice(i, 1);
    if (i >= 0 && i < current) current -= 1;
    else if (i >= 0 && i === current) current = -1; // the shown change left: show() picks the next
    selected.delete(item.event.uuid);
    item.row.remove();
    // what was fetched shows statuses from before this decision: fetch afresh from now on
    models.clear();
    versionLoads.clear();
    decidedCount[outcome] += 1;
    const text = outcome === "elsewhere" ? "already reviewed" : outcome;
    decidedList.prepend(el("li", { "data-event": item.event.uuid, "data-outcome": outcome },
      el("span", { class: `badge ${outcome === "elsewhere" ? "reviewed" : outcome}` }, text), " ",
      describe(item.event).title, message ? el("span", { class: "muted small" }, ` (${message})`) : null));
    decidedBox.hidden = false;
    document.getElementById("decided-summary").textContent =
      `Decided here: ${decidedCount.accepted} accepted, ${decidedCount.rejected} rejected`
      + (decidedCount.elsewhere ? `, ${decidedCount.elsewhere} already reviewed elsewhere` : "");
    updateSummary();
  }

  function toggle(item) {
    if (!item || !item.box) return;
    item.box.checked = !item.box.checked;
    item.box.dispatchEvent(new Event("change"));
  }

  claimButton.addEventListener("click", async () => {
    claimButton.disabled = true;
    try {
      const got = await api.json(`/datasets/${d}/queue/claim`, { method: "POST",
        body: { task: "review" }, signal });
      if (!got.lease) {
        leaseNote.textContent = "Nothing left to claim: every pending change is held or yours.";
        return;
      }
      const event = got.item.event;
      let index = queue.findIndex((q) => q.event.uuid === event.uuid);
      if (index < 0) { addRow(event); index = queue.length - 1; }
      queue[index].row.classList.add("leased");
      leaseNote.textContent = `Leased to you until ${when(got.lease.expires)}: ${describe(event).title}`;
      leaseNote.dataset.event = event.uuid;
      await show(index);
    } catch (e) {
      if (e.name !== "AbortError") leaseNote.replaceChildren(errorBox(e, "Not claimed"));
    } finally {
      claimButton.disabled = false;
    }
  });
  acceptButton.addEventListener("click", () => decide("accept"));
  rejectButton.addEventListener("click", () => decide("reject"));
  selectAll.addEventListener("click", () => {
    for (const q of queue) if (!q.box.checked) toggle(q);
  });
  clearSelection.addEventListener("click", () => {
    for (const q of queue) if (q.box.checked) toggle(q);
  });

  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.target;
    if (target && (target.isContentEditable || /^(TEXTAREA|SELECT)$/.test(target.tagName)
      || (target.tagName === "INPUT" && target.type !== "checkbox"))) return;
    const key = e.key;
    if (e.repeat && (key === "a" || key === "r" || key === "x")) return; // a held key decides once
    if (key === "j") {
      if (current < queue.length - 1) show(current + 1);
      else if (!done) loadMore().then(() => show(current + 1));
    } else if (key === "k") {
      if (current > 0) show(current - 1);
    } else if (key === "x" && canDecide) {
      toggle(queue[current]);
    } else if (key === "a" && canDecide) {
      decide("accept");
    } else if (key === "r" && canDecide) {
      decide("reject");
    } else {
      return;
    }
    e.preventDefault();
  }
  document.addEventListener("keydown", onKey);
  ctx.onLeave(() => {
    document.removeEventListener("keydown", onKey);
    clearDetail();
  });

  await loadMore();
  await show(0);
}

function verb(event) {
  if (/Create/.test(event.type)) return "new";
  if (/Update/.test(event.type)) return "update";
  if (/Delete/.test(event.type)) return "delete";
  return "other";
}

function cap(text) {
  return text[0].toUpperCase() + text.slice(1);
}

function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

// the first `limit` bytes of a response, as text
async function firstBytes(response, limit) {
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  while (size < limit) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  reader.cancel().catch(() => {});
  const all = new Uint8Array(Math.min(size, limit));
  let at = 0;
  for (const c of chunks) {
    const part = c.subarray(0, Math.min(c.length, all.length - at));
    all.set(part, at);
    at += part.length;
  }
  return new TextDecoder().decode(all);
}

// a text, its lines absent from `other` marked (a line-level comparison, enough to spot a change)
function textBlock(text, other, cut = false) {
  const theirs = other === null || other === undefined ? null : new Set(other.split("\n"));
  const pre = el("pre", { class: "json text" });
  for (const line of text.split("\n")) {
    const changed = theirs !== null && !theirs.has(line);
    pre.append(el("span", { class: changed ? "line changed" : "line" }, line), "\n");
  }
  if (cut) pre.append(el("span", { class: "muted" }, "… (the rest is not shown)"));
  return pre;
}
