// #/d/<name>/members: the dataset's settings (visibility, another reviewer required), what the
// signed-in user may do in it, its owners, and its members with their roles. Owners change the
// settings (PATCH /datasets/<d>) and the members (PUT and DELETE /datasets/<d>/members/<user>);
// each change is an event of the dataset's log. Everyone else reads.

import * as api from "../api.js";
import { el, crumbs, errorBox } from "../ui.js";

const ROLES = [
  ["viewer", "viewer: reads"],
  ["annotator", "annotator: also proposes changes"],
  ["reviewer", "reviewer: also accepts and rejects them"],
];

export async function render(root, { dataset }, ctx) {
  const d = api.enc(dataset);
  const signal = ctx.signal;
  crumbs({ text: "Datasets", href: "#/datasets" }, { text: dataset, href: `#/d/${d}` },
    { text: "Members" });
  const [info, owners, members] = await Promise.all([
    api.json(`/datasets/${d}`, { signal }),
    api.json(`/datasets/${d}/owners`, { signal }),
    api.json(`/datasets/${d}/members`, { signal }),
  ]);
  const isOwner = info.access === "owner";
  const message = el("div", { id: "members-message", "aria-live": "polite" });

  function done(text) {
    message.replaceChildren(el("p", { class: "ok-text" }, text));
  }
  function failed(e, what) {
    if (e.name === "AbortError") return;
    message.replaceChildren(errorBox(e, what));
  }

  // --- settings ---
  const visibility = el("select", { id: "visibility", disabled: !isOwner },
    el("option", { value: "internal" }, "internal: every user of the server reads it and proposes changes"),
    el("option", { value: "private" }, "private: only its owners and members (404 for anyone else)"));
  visibility.value = info.visibility;
  const fourEyes = el("input", { type: "checkbox", id: "four-eyes", checked: info.require_other_reviewer,
    disabled: !isOwner });
  const save = isOwner ? el("button", { type: "submit", class: "primary", id: "save-settings" }, "Save") : null;
  const settings = el("form", { class: "settings", id: "settings" },
    el("label", { for: "visibility" }, "Visibility"), visibility,
    el("label", { for: "four-eyes", class: "check" }, fourEyes,
      " Require another reviewer: nobody accepts a change they proposed"), save);
  settings.addEventListener("submit", async (e) => {
    e.preventDefault();
    save.disabled = true;
    try {
      const body = {};
      if (visibility.value !== info.visibility) body.visibility = visibility.value;
      if (fourEyes.checked !== info.require_other_reviewer) body.require_other_reviewer = fourEyes.checked;
      if (Object.keys(body).length === 0) { done("Nothing changed."); return; }
      const after = await api.json(`/datasets/${d}`, { method: "PATCH", body, signal });
      info.visibility = after.visibility;
      info.require_other_reviewer = after.require_other_reviewer;
      done(`Saved: ${after.visibility}, another reviewer ${after.require_other_reviewer ? "required" : "not required"}.`);
    } catch (err) {
      failed(err, "The settings were not saved");
    } finally {
      save.disabled = false;
    }
  });

  // --- members ---
  const body = el("tbody");
  const table = el("table", { class: "members", id: "members" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "User"), el("th", { scope: "col" }, "Role"),
      isOwner ? el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Remove")) : null)),
    body);
  const empty = el("p", { class: "muted", id: "no-members" }, "No members: only the owners, "
    + (info.visibility === "internal" ? "and every user as an annotator (the dataset is internal)." : "(the dataset is private)."));

  function roleSelect(user, role) {
    const select = el("select", { "aria-label": `Role of ${user}`, disabled: !isOwner },
      ROLES.map(([value, label]) => el("option", { value }, label)));
    select.value = role;
    select.addEventListener("change", async () => {
      try {
        await api.json(`/datasets/${d}/members/${api.enc(user)}`, { method: "PUT",
          body: { role: select.value }, signal });
        select.closest("tr").dataset.role = select.value;
        done(`${user} is now ${select.value === "annotator" ? "an" : "a"} ${select.value}.`);
      } catch (err) {
        select.value = select.closest("tr").dataset.role;
        failed(err, `${user}'s role was not changed`);
      }
    });
    return select;
  }

  function addRow(user, role) {
    const remove = isOwner ? el("button", { type: "button", class: "remove" }, "Remove") : null;
    const row = el("tr", { "data-user": user, "data-role": role },
      el("th", { scope: "row" }, user), el("td", {}, roleSelect(user, role)),
      isOwner ? el("td", {}, remove) : null);
    if (remove) {
      remove.addEventListener("click", async () => {
        try {
          await api.json(`/datasets/${d}/members/${api.enc(user)}`, { method: "DELETE", signal });
          row.remove();
          empty.hidden = body.children.length > 0;
          done(`${user} is no longer a member.`);
        } catch (err) {
          failed(err, `${user} was not removed`);
        }
      });
    }
    const after = [...body.children].find((r) => r.dataset.user > user);
    body.insertBefore(row, after || null);
    empty.hidden = true;
  }
  for (const m of members) addRow(m.user, m.role);
  empty.hidden = members.length > 0;

  let addForm = null;
  if (isOwner) {
    const user = el("input", { id: "member-user", autocomplete: "off", required: true, placeholder: "username" });
    const role = el("select", { id: "member-role" }, ROLES.map(([value, label]) => el("option", { value }, label)));
    role.value = "annotator";
    addForm = el("form", { class: "toolbar", id: "add-member" },
      el("label", { for: "member-user" }, "Add a member"), user,
      el("label", { for: "member-role", class: "visually-hidden" }, "Role"), role,
      el("button", { type: "submit" }, "Add"));
    addForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = user.value.trim();
      try {
        const made = await api.json(`/datasets/${d}/members/${api.enc(name)}`, { method: "PUT",
          body: { role: role.value }, signal });
        const existing = body.querySelector(`tr[data-user="${CSS.escape(made.user)}"]`);
        if (existing) existing.remove();
        addRow(made.user, made.role);
        user.value = "";
        done(`${made.user} is now ${made.role === "annotator" ? "an" : "a"} ${made.role}.`);
      } catch (err) {
        failed(err, `${name || "Nobody"} was not added`);
      }
    });
  }

  root.replaceChildren(
    el("h1", {}, `${dataset}: members`),
    el("p", { id: "my-access" }, `You (${ctx.user}) are `, el("strong", {}, info.access === "owner"
      ? "an owner" : `${info.access === "annotator" ? "an" : "a"} ${info.access}`), " of this dataset."),
    message,
    el("section", { "aria-labelledby": "settings-h" }, el("h2", { id: "settings-h" }, "Settings"), settings),
    el("section", { "aria-labelledby": "owners-h" }, el("h2", { id: "owners-h" }, "Owners"),
      el("p", { id: "owners" }, owners.join(", ")),
      el("p", { class: "muted small" }, "Owners do everything: they also manage members, owners, settings and releases.")),
    el("section", { "aria-labelledby": "members-h" }, el("h2", { id: "members-h" }, "Members"),
      table, empty, addForm));
}
