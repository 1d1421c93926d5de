// The app's entry: sign-in, sign-out and a hash router. Each page is a module exporting
// render(root, params, ctx); ctx gives it the signed-in user, an AbortSignal that fires when
// the user leaves the page, and onLeave(fn) to release what it holds (observers, blob: URLs).
//
// Routes:
//   #/datasets                          the datasets with their counts
//   #/d/<name>                          a dataset's objects (?status=, ?q= in the hash)
//   #/d/<name>/o/<uuid>/<version>       an object version, its annotations drawn
//   #/d/<name>/review                   the review inbox: pending changes, accepted or rejected
//   #/d/<name>/releases                 releases: list, create, diff between two points, exports
//   #/d/<name>/members                  settings, owners, members and their roles
//   #/d/<name>/log                      the events, paged, and the chain verified in the browser

import * as api from "./api.js";
import { el, errorBox, crumbs } from "./ui.js";
import * as signin from "./pages/signin.js";

const ROUTES = [
  [/^\/datasets$/, () => import("./pages/datasets.js"), () => ({})],
  [/^\/d\/([^/]+)$/, () => import("./pages/dataset.js"), (m) => ({ dataset: m[1] })],
  [/^\/d\/([^/]+)\/o\/([^/]+)\/(\d+)$/, () => import("./pages/object.js"),
    (m) => ({ dataset: m[1], uuid: m[2], version: Number(m[3]) })],
  [/^\/d\/([^/]+)\/review$/, () => import("./pages/review.js"), (m) => ({ dataset: m[1] })],
  [/^\/d\/([^/]+)\/releases$/, () => import("./pages/releases.js"), (m) => ({ dataset: m[1] })],
  [/^\/d\/([^/]+)\/members$/, () => import("./pages/members.js"), (m) => ({ dataset: m[1] })],
  [/^\/d\/([^/]+)\/log$/, () => import("./pages/log.js"), (m) => ({ dataset: m[1] })],
];

const main = document.getElementById("main");
const who = document.getElementById("who");
const signout = document.getElementById("signout");
let current = null; // { controller, cleanups }
let user = null;

function leave() {
  if (!current) return;
  current.controller.abort();
  for (const fn of current.cleanups.splice(0)) {
    try { fn(); } catch (e) { console.warn("cleanup failed", e); }
  }
  current = null;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/datasets";
  const [path, search = ""] = raw.split("?");
  return { path, query: new URLSearchParams(search) };
}

async function route() {
  leave();
  document.getElementById("messages").replaceChildren();
  if (!api.getKey() || !user) {
    showSignedOut();
    return;
  }
  const { path, query } = parseHash();
  const controller = new AbortController();
  current = { controller, cleanups: [] };
  const ctx = {
    user,
    query,
    signal: controller.signal,
    onLeave: (fn) => current && current.controller === controller && current.cleanups.push(fn),
    // replace the hash's query without a new history entry nor a re-render
    setQuery(values) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(values)) if (v) q.set(k, v);
      const s = q.toString();
      history.replaceState(null, "", `#${path}${s ? `?${s}` : ""}`);
    },
  };
  for (const [pattern, load, params] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    let decoded;
    try {
      decoded = params(match.map((part) => decodeURIComponent(part)));
    } catch {
      break;
    }
    main.replaceChildren(el("p", { class: "muted" }, "Loading…"));
    try {
      const page = await load();
      if (controller.signal.aborted) return;
      await page.render(main, decoded, ctx);
    } catch (e) {
      if (e.name === "AbortError" || controller.signal.aborted) return;
      if (e instanceof api.ApiError && e.status === 401) {
        signOut("Your key is no longer accepted; sign in again.");
        return;
      }
      main.replaceChildren(errorBox(e, "This page could not be shown"));
    }
    return;
  }
  crumbs({ text: "Not found" });
  main.replaceChildren(el("h1", {}, "Not found"),
    el("p", {}, "No page at this address. ", el("a", { href: "#/datasets" }, "See the datasets.")));
}

function showSignedOut(message) {
  who.textContent = "";
  signout.hidden = true;
  crumbs();
  signin.render(main, { message }, { onSignedIn });
}

function onSignedIn(name) {
  user = name;
  who.textContent = name;
  signout.hidden = false;
  if (!location.hash || location.hash === "#" || location.hash === "#/") {
    location.hash = "#/datasets"; // hashchange routes
  } else {
    route();
  }
}

function signOut(message) {
  leave();
  api.clearKey();
  user = null;
  showSignedOut(message);
}

signout.addEventListener("click", () => signOut("Signed out. The key is forgotten by this tab."));
window.addEventListener("hashchange", route);

async function start() {
  const key = api.getKey();
  if (!key) { showSignedOut(); return; }
  try {
    const me = await api.whoAmI();
    onSignedIn(me.user);
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 401) {
      api.clearKey();
      showSignedOut("Your key is no longer accepted; sign in again.");
    } else {
      main.replaceChildren(errorBox(e, "The server did not answer"));
    }
  }
}

start();
