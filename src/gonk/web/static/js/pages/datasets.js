// #/datasets: every dataset, with its counts from GET /datasets/<d>/stats, each row's counts
// loaded on their own (the list shows at once; a slow or failing row does not hold the rest).

import * as api from "../api.js";
import { el, crumbs } from "../ui.js";

const STATUSES = ["accepted", "pending", "deleted", "rejected"];

export async function render(root, params, ctx) {
  crumbs({ text: "Datasets" });
  const names = await api.json("/datasets", { signal: ctx.signal });
  const heading = el("h1", {}, "Datasets");
  if (names.length === 0) {
    root.replaceChildren(heading, el("p", { class: "muted" },
      "No dataset yet. Create one with POST /datasets (see the README's quick start)."));
    return;
  }
  const body = el("tbody");
  const table = el("table", { class: "datasets" },
    el("caption", { class: "visually-hidden" }, "Datasets and their counts"),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, "Dataset"),
      el("th", { scope: "col", class: "num" }, "Objects", el("br"), el("span", { class: "small muted" }, "accepted")),
      el("th", { scope: "col", class: "num" }, "Annotations", el("br"), el("span", { class: "small muted" }, "accepted")),
      el("th", { scope: "col", class: "num" }, "Pending changes"))),
    body);
  for (const name of names) {
    const cells = [0, 1, 2].map(() => el("td", { class: "num muted" }, "…"));
    const row = el("tr", { "data-dataset": name },
      el("th", { scope: "row" }, el("a", { href: `#/d/${api.enc(name)}` }, name)), ...cells);
    body.append(row);
    loadCounts(name, cells, ctx.signal);
  }
  root.replaceChildren(heading, table);
}

function describe(counts) {
  return STATUSES.map((s) => `${counts[s]} ${s}`).join(", ");
}

async function loadCounts(name, cells, signal) {
  try {
    const stats = await api.json(`/datasets/${api.enc(name)}/stats`, { signal });
    const pending = stats.objects.pending + stats.schemas.pending + stats.annotations.pending;
    const values = [
      [stats.objects.accepted, describe(stats.objects), "objects"],
      [stats.annotations.accepted, describe(stats.annotations), "annotations"],
      [pending, `${stats.objects.pending} objects, ${stats.schemas.pending} schemas, `
        + `${stats.annotations.pending} annotations`, "pending"],
    ];
    values.forEach(([value, title, field], i) => {
      cells[i].className = "num";
      cells[i].dataset.field = field;
      cells[i].title = title;
      cells[i].textContent = String(value);
    });
    if (pending > 0) { // straight to the review inbox
      cells[2].replaceChildren(el("a", { href: `#/d/${api.enc(name)}/review`,
        title: `Review ${name}'s pending changes` }, String(pending)));
    }
  } catch (e) {
    if (e.name === "AbortError") return;
    for (const cell of cells) {
      cell.className = "num error-text";
      cell.textContent = "–";
      cell.title = e.message;
    }
    cells[0].textContent = "error";
  }
}
