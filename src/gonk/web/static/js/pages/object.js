// #/d/<name>/o/<uuid>/<version>: an object version. An image is shown at full size (its bytes
// fetched with the key, shown through a blob: URL) with every annotation of a standard kind
// drawn over it (a toggle per annotation); other annotations as formatted JSON; the object's
// versions with their statuses and the events of each version.

import * as api from "../api.js";
import { el, crumbs, errorBox, isImage } from "../ui.js";
import { colour, drawAnnotation, drawable, kindOf, showImage } from "../draw.js";

// a version's statuses from its events' reviews (README, "Status of a version")
export function statuses(events) {
  const changes = events.filter((e) => /^Object(Create|Update)Event$/.test(e.type));
  const deletes = events.filter((e) => e.type === "ObjectDeleteEvent");
  const out = new Set();
  if (changes.some((e) => e.review === "REJECTED")) out.add("rejected");
  if (changes.some((e) => e.review === "PENDING")) out.add("pending");
  if (deletes.some((e) => e.review === "PENDING")) out.add("pending");
  if (deletes.some((e) => e.review === "ACCEPTED")) out.add("deleted");
  if (!out.has("rejected") && !out.has("deleted") && !changes.some((e) => e.review === "PENDING")) {
    out.add("accepted");
  }
  return [...out];
}

function badges(list) {
  return list.map((s) => el("span", { class: `badge ${s}` }, s));
}

export async function render(root, { dataset, uuid, version }, ctx) {
  const d = api.enc(dataset);
  const base = `/datasets/${d}/objects/${api.enc(uuid)}`;
  const signal = ctx.signal;
  const [loaded, info] = await Promise.all([
    api.json(`${base}/${version}`, { query: { bytes: "false" }, signal }),
    api.json(base, { signal }),
  ]);
  const obj = loaded.object;
  crumbs({ text: "Datasets", href: "#/datasets" }, { text: dataset, href: `#/d/${d}` },
    { text: `${obj.name} (v${version})` });

  const view = el("div", { class: "viewer" });
  const side = el("div", { class: "side" });
  const annotationsBox = el("section", { class: "annotations", "aria-labelledby": "ann-h" },
    el("h2", { id: "ann-h" }, "Annotations"));
  const versionsBox = el("section", { class: "versions", "aria-labelledby": "ver-h" },
    el("h2", { id: "ver-h" }, "Versions"));
  side.append(annotationsBox, versionsBox);
  // opened from "Next to annotate": the lease it holds, and a way to give it back
  const leaseId = ctx.query.get("lease");
  let leaseBox = null;
  if (leaseId) {
    const giveBack = el("button", { type: "button", id: "give-back" }, "Give it back");
    leaseBox = el("p", { class: "notice", id: "lease" }, "Leased to you to annotate: other "
      + "claimers pass over it until you annotate it or give it back. ", giveBack);
    giveBack.addEventListener("click", async () => {
      try {
        await api.request(`/datasets/${d}/queue/leases/${api.enc(leaseId)}`, { method: "DELETE", signal });
        leaseBox.replaceChildren("Given back: the next claimer may take it.");
        ctx.setQuery({});
      } catch (e) {
        if (e.name !== "AbortError") leaseBox.append(errorBox(e, "Not given back"));
      }
    });
  }
  root.replaceChildren(...[
    el("h1", {}, obj.name, " ", el("span", { class: "muted small" }, `version ${version}`)), leaseBox].filter(Boolean),
    el("p", { class: "muted small meta" }, `${obj.format} · ${obj.size} bytes · sha256 `,
      el("code", { title: obj.hash }, obj.hash.slice(0, 16) + "…")),
    el("div", { class: "object-layout" }, view, side));

  // the image, then the annotations over it
  let layer = null;
  if (isImage(obj.name, obj.format)) {
    try {
      const src = await api.blobUrl(`${base}/${version}/bytes`, { signal });
      ctx.onLeave(() => URL.revokeObjectURL(src));
      const shown = await showImage(view, src, obj.name);
      ctx.onLeave(shown.stop);
      layer = shown.layer;
    } catch (e) {
      if (e.name === "AbortError") throw e;
      view.replaceChildren(errorBox(e.status ? e : new Error("The browser cannot show this image."),
        "The image could not be shown"));
    }
  } else {
    view.replaceChildren(el("div", { class: "nonimage" },
      el("span", { class: "icon big", "aria-hidden": "true" },
        (obj.name.match(/\.([A-Za-z0-9]{1,5})$/) || [, "FILE"])[1].toUpperCase()),
      el("p", {}, `${obj.name} is not an image (${obj.format}).`)));
  }

  renderVersions(versionsBox, { d, base, uuid, count: info.versions, version, loaded, signal });

  if (loaded.annotations.length === 0) {
    annotationsBox.append(el("p", { class: "muted" }, "No annotation on this version."));
    return;
  }
  const list = el("ul", { class: "annotation-list" });
  annotationsBox.append(list);
  const results = await Promise.all(loaded.annotations.map(async (a) => {
    const v = a.versions - 1;
    try {
      const ann = await api.json(`/datasets/${d}/annotations/${a.uuid}/${v}`, { signal });
      return { uuid: a.uuid, version: v, ann, doc: api.decodeJson(ann.bytes) };
    } catch (e) {
      if (e.name === "AbortError") throw e;
      return { uuid: a.uuid, version: v, error: e };
    }
  }));
  for (const r of results) {
    const id = `${r.uuid}/${r.version}`;
    const heading = el("span", { class: "ann-title" }, el("code", {}, r.uuid.slice(0, 8)),
      ` v${r.version}`);
    if (r.error) {
      list.append(el("li", {}, heading, errorBox(r.error, "Not loaded")));
      continue;
    }
    const statusList = statusOfAnnotation(r.ann.events);
    const kind = kindOf(r.doc);
    const item = el("li", { "data-annotation": id }, heading, " ",
      el("span", { class: "muted small" }, kind || "JSON"), " ", ...badges(statusList));
    if (layer && drawable(r.doc)) {
      const group = drawAnnotation(layer, id, r.doc);
      const toggle = el("input", { type: "checkbox", checked: true, id: `t-${r.uuid}`,
        "aria-label": `Show annotation ${r.uuid.slice(0, 8)}` });
      toggle.addEventListener("change", () => { group.style.display = toggle.checked ? "" : "none"; });
      item.prepend(el("label", { class: "toggle", for: `t-${r.uuid}` }, toggle));
      const labels = [...group.querySelectorAll(".shape")].map((s) => s.dataset.label);
      item.append(el("ul", { class: "legend" }, [...new Set(labels)].map((l) =>
        el("li", {}, el("span", { class: "swatch", "data-colour": l }), l,
          el("span", { class: "muted small" }, ` ×${labels.filter((x) => x === l).length}`)))));
    } else if (kind === "classification") {
      item.append(el("p", {}, r.doc.labels.map((l) => el("span", { class: "chip" }, l))));
    } else if (kind === "caption") {
      item.append(...r.doc.captions.map((c) => el("blockquote", {}, c)));
    }
    item.append(el("details", { open: !(layer && drawable(r.doc)) && kind === null },
      el("summary", {}, "JSON"), el("pre", { class: "json" }, JSON.stringify(r.doc, null, 2))));
    list.append(item);
  }
  // swatch colours set from script (the CSP allows no inline style attribute in HTML)
  for (const s of list.querySelectorAll(".swatch")) s.style.background = colour(s.dataset.colour);
}

function statusOfAnnotation(events) {
  const changes = events.filter((e) => /^Annotation(Create|Update)Event$/.test(e.type));
  const deletes = events.filter((e) => e.type === "AnnotationDeleteEvent");
  return statuses([...changes.map((e) => ({ ...e, type: e.type.replace("Annotation", "Object") })),
    ...deletes.map((e) => ({ ...e, type: "ObjectDeleteEvent" }))]);
}

async function renderVersions(box, { d, base, uuid, count, version, loaded, signal }) {
  const list = el("ol", { class: "version-list", reversed: true });
  box.append(list);
  const numbers = [...Array(count).keys()].reverse();
  const rows = numbers.map((v) => {
    const li = el("li", { "data-version": v, class: v === version ? "current" : "" },
      v === version ? el("strong", {}, `v${v} (this one)`)
        : el("a", { href: `#/d/${d}/o/${uuid}/${v}` }, `v${v}`), " ");
    list.append(li);
    return li;
  });
  await Promise.all(numbers.map(async (v, i) => {
    try {
      const data = v === version ? loaded
        : await api.json(`${base}/${v}`, { query: { bytes: "false" }, signal });
      rows[i].append(...badges(statuses(data.events)), " ",
        el("span", { class: "muted small" }, data.object.name),
        el("ul", { class: "events" }, data.events.map((e) => el("li", {},
          el("span", { class: "etype" }, e.type.replace(/Event$/, "")), " ",
          e.review ? el("span", { class: `badge ${e.review.toLowerCase()}` },
            e.review.toLowerCase()) : null, " ",
          el("code", { class: "muted small", title: e.uuid }, e.uuid.slice(0, 8))))));
    } catch (e) {
      if (e.name === "AbortError") return;
      rows[i].append(errorBox(e));
    }
  }));
}
