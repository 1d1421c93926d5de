// The API seen from the browser: every call sends the key kept in this tab's sessionStorage.
// A JSON error answer becomes an ApiError (status, message, extra: the rest of the body).

const KEY = "gonk.key";

export class ApiError extends Error {
  constructor(status, message, extra = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.extra = extra;
  }
}

export function getKey() { return sessionStorage.getItem(KEY); }
export function setKey(key) { sessionStorage.setItem(KEY, key); }
export function clearKey() { sessionStorage.removeItem(KEY); }

// relative to the page, so a server mounted under a prefix still works
const BASE = new URL(".", document.baseURI);

export function url(path, query = {}) {
  const u = new URL(path.replace(/^\//, ""), BASE);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") u.searchParams.set(name, value);
  }
  return u;
}

export const enc = encodeURIComponent;

async function errorOf(response) {
  let body = {};
  try { body = await response.json(); } catch { /* not JSON: say the status */ }
  const { error, ...extra } = (body && typeof body === "object") ? body : {};
  const message = typeof error === "string" && error ? error
    : `${response.status} ${response.statusText || "error"}`;
  return new ApiError(response.status, message, extra);
}

// fetch with the key; a non-2xx answer throws ApiError, a network failure too (status 0)
export async function request(path, { query, method = "GET", body, key, signal } = {}) {
  const headers = { "x-api-key": key ?? getKey() ?? "" };
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url(path, query), { method, headers, body: payload, signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, `The server could not be reached (${e.message}).`);
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function json(path, options) {
  return (await request(path, options)).json();
}

// bytes as a blob: URL (the caller revokes it when done); the Response's Blob keeps the type
export async function blobUrl(path, options) {
  const response = await request(path, options);
  return URL.createObjectURL(await response.blob());
}

// one page of a list that pages with ?after= (the last uuid received); `next` is the cursor
// to pass for the following page, null when this one was the last
export async function page(path, { after, limit = 100, query = {}, signal } = {}) {
  const items = await json(path, { query: { ...query, after, limit }, signal });
  const next = items.length > 0 ? items[items.length - 1].uuid : null;
  return { items, next: items.length < limit ? null : next };
}

// every item of a paged list, page after page
export async function* pages(path, { limit = 100, query = {}, signal } = {}) {
  let after;
  for (;;) {
    const { items, next } = await page(path, { after, limit, query, signal });
    yield items;
    if (next === null) return;
    after = next;
  }
}

// the JSON document inside an annotation version's base64 "bytes"
export function decodeJson(base64) {
  const binary = atob(base64);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// the key's user: GET /me answers {"user": name} (401 for a key the server does not know)
export async function whoAmI(key) {
  return json("/me", { key });
}
