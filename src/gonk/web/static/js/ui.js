// Small DOM helpers shared by the pages.

// el("a", {href: "#/x", class: "c"}, "text", child...): children are nodes or strings (text)
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// an error as a message in place (never a blank page): the server's words and its status
export function errorBox(error, what = "") {
  const status = error && error.status ? ` (HTTP ${error.status})` : "";
  const message = error && error.message ? error.message : String(error);
  return el("div", { class: "error", role: "alert" },
    what ? el("strong", {}, `${what}: `) : null, message + status);
}

// a message at the top of the page, for errors outside any page's content
export function notify(error, what = "") {
  const box = document.getElementById("messages");
  const node = errorBox(error, what);
  const close = el("button", { type: "button", class: "close", "aria-label": "Dismiss" }, "×");
  close.addEventListener("click", () => node.remove());
  node.append(close);
  box.append(node);
}

export function crumbs(...parts) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren(...parts.flatMap((part, i) => {
    const node = part.href ? el("a", { href: part.href }, part.text) : el("span", {}, part.text);
    return i === 0 ? [node] : [el("span", { class: "sep", "aria-hidden": "true" }, "/"), node];
  }));
}

export function isImage(name, format) {
  if (format && format.startsWith("image/")) return true;
  return /\.(jpe?g|png|gif|webp|bmp|tiff?)$/i.test(name || "");
}

// a log timestamp ("2026-11-22T19:30:00.123456Z") as "2026-11-22 19:30:00 UTC"
export function when(timestamp) {
  return typeof timestamp === "string" ? timestamp.replace("T", " ").replace(/\.\d+Z$/, " UTC") : "";
}
