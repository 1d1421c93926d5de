// Draws annotations of the standard label kinds (README, "Label kinds") over an image as SVG,
// in the image's pixel coordinates: detection boxes, segmentation polygons and RLE masks,
// keypoints; each shape with its label, in a colour per class (the same class, the same
// colour, on every page).

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  return node;
}

// a stable colour per class: a hash of the label picks a hue
export function colour(label) {
  let h = 2166136261;
  for (const c of String(label)) h = Math.imul(h ^ c.codePointAt(0), 16777619);
  const hue = (h >>> 0) % 360;
  return `hsl(${hue} 85% 50%)`;
}

// the kind of a document by its shape (a schema's x-gonk-kind guarantees that shape)
export function kindOf(doc) {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return null;
  if (Array.isArray(doc.boxes)) return "detection";
  if (Array.isArray(doc.instances)) {
    if (doc.instances.some((i) => i && Array.isArray(i.points))) return "keypoints";
    if (doc.instances.every((i) => i && (Array.isArray(i.polygons) || i.rle))) return "segmentation";
  }
  if (Array.isArray(doc.labels)) return "classification";
  if (Array.isArray(doc.captions)) return "caption";
  return null;
}

export function drawable(doc) {
  return ["detection", "segmentation", "keypoints"].includes(kindOf(doc));
}

// sizes on screen: a drawn element keeps its sizes at one image pixel per screen pixel in
// data-base ("font-size=14;stroke-width=3"), and fit() multiplies them by the stage's current
// scale (image pixels per screen pixel), so strokes and labels read the same however large or
// small the image is shown, and again after the window is resized
function sized(node, base) {
  node.dataset.base = Object.entries(base).map(([k, v]) => `${k}=${v}`).join(";");
  return node;
}

export function fit(layer, scale) {
  layer.dataset.scale = String(scale);
  for (const node of layer.querySelectorAll("[data-base]")) {
    for (const pair of node.dataset.base.split(";")) {
      const [name, value] = pair.split("=");
      node.setAttribute(name, value.split(" ").map((n) => Number(n) * scale).join(" "));
    }
    if (node.dataset.y0 !== undefined) { // a label: just above its anchor, never off the top
      node.setAttribute("y", Math.max(Number(node.dataset.y0) - 4 * scale, 14 * scale));
    }
  }
}

function label(group, text, x, y, fill) {
  const t = sized(svg("text", { x, fill: "#fff", stroke: fill, "paint-order": "stroke",
    class: "label" }), { "font-size": 14, "stroke-width": 3 });
  t.dataset.y0 = String(y);
  t.textContent = text;
  group.append(t);
}

// COCO RLE counts (the list of runs, or COCO's compressed string) to runs
function runs(counts) {
  if (Array.isArray(counts)) return counts;
  const out = [];
  let p = 0;
  while (p < counts.length) {
    let x = 0, k = 0, more = 1;
    while (more) {
      const c = counts.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = c & 0x20;
      p += 1; k += 1;
      if (!more && (c & 0x10)) x |= -1 << (5 * k);
    }
    if (out.length > 2) x += out[out.length - 2];
    out.push(x);
  }
  return out;
}

// an RLE mask as a data: PNG-free image: a canvas rendered to a blob-less data URL
function maskImage(rle, fill) {
  const [height, width] = rle.size;
  const canvas = document.createElement("canvas");
  canvas.width = width; canvas.height = height;
  const g = canvas.getContext("2d");
  const image = g.createImageData(width, height);
  const probe = document.createElement("span");
  probe.style.color = fill; document.body.append(probe);
  const [r, gr, b] = getComputedStyle(probe).color.match(/\d+/g).map(Number);
  probe.remove();
  let i = 0, on = false;
  for (const run of runs(rle.counts)) {
    if (on) {
      for (let k = i; k < i + run; k += 1) { // column-major: k = x * height + y
        const x = Math.floor(k / height), y = k % height;
        const o = (y * width + x) * 4;
        image.data[o] = r; image.data[o + 1] = gr; image.data[o + 2] = b; image.data[o + 3] = 110;
      }
    }
    i += run; on = !on;
  }
  g.putImageData(image, 0, 0);
  return canvas.toDataURL("image/png");
}

// one <g> per annotation, data-annotation set; each shape a <g class="shape"> with data-label
// drawn at the layer's current scale (set by fit(); as if shown 800 pixels wide before that)
export function drawAnnotation(layer, id, doc) {
  const width = layer.viewBox.baseVal ? layer.viewBox.baseVal.width : 800;
  const scale = Number(layer.dataset.scale) || Math.max(width / 800, 1);
  const group = svg("g", { "data-annotation": id, class: "annotation" });
  const shape = (kind, text) => {
    const g = svg("g", { class: `shape ${kind}`, "data-label": text });
    group.append(g);
    return g;
  };
  const kind = kindOf(doc);
  if (kind === "detection") {
    for (const box of doc.boxes) {
      const [x, y, w, h] = box.bbox;
      const fill = colour(box.label);
      const text = box.score !== undefined ? `${box.label} ${Math.round(box.score * 100)}%` : box.label;
      const g = shape("box", box.label);
      g.append(sized(svg("rect", { x, y, width: w, height: h, fill: "none", stroke: fill }),
        { "stroke-width": 2 }));
      label(g, text, x, y, fill);
    }
  } else if (kind === "segmentation") {
    for (const inst of doc.instances) {
      const fill = colour(inst.label);
      const g = shape("instance", inst.label);
      let top = null;
      if (inst.rle && Array.isArray(inst.rle.size)) {
        const [h, w] = inst.rle.size;
        g.append(svg("image", { href: maskImage(inst.rle, fill), x: 0, y: 0, width: w, height: h,
          class: "mask" }));
      }
      for (const poly of inst.polygons || []) {
        g.append(sized(svg("polygon", { points: poly.map(([x, y]) => `${x},${y}`).join(" "),
          fill, "fill-opacity": 0.25, stroke: fill }), { "stroke-width": 2 }));
        for (const [x, y] of poly) if (!top || y < top[1]) top = [x, y];
      }
      if (top) label(g, inst.label, top[0], top[1], fill);
      else if (inst.rle) label(g, inst.label, 0, 0, fill);
    }
  } else if (kind === "keypoints") {
    for (const inst of doc.instances) {
      const fill = colour(inst.label);
      const g = shape("instance", inst.label);
      const pts = inst.points || [];
      if (Array.isArray(inst.bbox)) {
        const [x, y, w, h] = inst.bbox;
        g.append(sized(svg("rect", { x, y, width: w, height: h, fill: "none", stroke: fill }),
          { "stroke-width": 1.5, "stroke-dasharray": "6 4" }));
        label(g, inst.label, x, y, fill);
      } else if (pts.length) {
        label(g, inst.label, Math.min(...pts.map((p) => p.x)), Math.min(...pts.map((p) => p.y)),
          fill);
      }
      for (const p of pts) {
        const c = sized(svg("circle", { cx: p.x, cy: p.y, fill: p.visible === false ? "none" : fill,
          stroke: "#fff", class: "point" }), { r: 4, "stroke-width": 1.5 });
        const title = svg("title"); title.textContent = p.name; c.append(title);
        g.append(c);
      }
    }
  }
  layer.append(group);
  fit(group, scale);
  return group;
}

// an <svg> laid over an image of width x height (scales with it: viewBox in pixels)
export function overlay(width, height) {
  return svg("svg", { class: "overlay", viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: "none", role: "img", "aria-label": "Annotations" });
}

// an image (a blob: URL) with an overlay for annotations, appended to `container` once decoded;
// the overlay follows the image's size on screen (a ResizeObserver calls fit()), released by
// the returned stop(). Resolves to {stage, img, layer, width, height, stop}.
export async function showImage(container, src, alt) {
  const img = document.createElement("img");
  img.src = src; img.alt = alt; img.className = "full";
  await img.decode();
  const width = img.naturalWidth, height = img.naturalHeight;
  const layer = overlay(width, height);
  const stage = document.createElement("div");
  stage.className = "stage";
  stage.append(img, layer);
  container.replaceChildren(stage);
  const refit = () => {
    const shown = img.getBoundingClientRect().width;
    if (shown > 0) fit(layer, Math.max(width / shown, 0.75));
  };
  refit();
  const observer = new ResizeObserver(refit);
  observer.observe(img);
  return { stage, img, layer, width, height, stop: () => observer.disconnect() };
}
