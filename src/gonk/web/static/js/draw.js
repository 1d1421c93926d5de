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

function label(group, text, x, y, fill, scale) {
  const size = 14 * scale;
  const t = svg("text", { x, y: Math.max(y - 4 * scale, size), "font-size": size,
    fill: "#fff", stroke: fill, "stroke-width": 3 * scale, "paint-order": "stroke",
    class: "label" });
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
// `scale`: image pixels per screen pixel as shown, so strokes and labels read the same on a
// large image shown small (default: as if shown 800 pixels wide)
export function drawAnnotation(layer, id, doc, { width, scale: shown }) {
  const scale = shown || Math.max(width / 800, 1);
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
      g.append(svg("rect", { x, y, width: w, height: h, fill: "none", stroke: fill,
        "stroke-width": 2 * scale }));
      label(g, text, x, y, fill, scale);
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
        g.append(svg("polygon", { points: poly.map(([x, y]) => `${x},${y}`).join(" "),
          fill, "fill-opacity": 0.25, stroke: fill, "stroke-width": 2 * scale }));
        for (const [x, y] of poly) if (!top || y < top[1]) top = [x, y];
      }
      if (top) label(g, inst.label, top[0], top[1], fill, scale);
      else if (inst.rle) label(g, inst.label, 0, 14 * scale, fill, scale);
    }
  } else if (kind === "keypoints") {
    for (const inst of doc.instances) {
      const fill = colour(inst.label);
      const g = shape("instance", inst.label);
      const pts = inst.points || [];
      if (Array.isArray(inst.bbox)) {
        const [x, y, w, h] = inst.bbox;
        g.append(svg("rect", { x, y, width: w, height: h, fill: "none", stroke: fill,
          "stroke-width": 1.5 * scale, "stroke-dasharray": `${6 * scale} ${4 * scale}` }));
        label(g, inst.label, x, y, fill, scale);
      } else if (pts.length) {
        label(g, inst.label, Math.min(...pts.map((p) => p.x)), Math.min(...pts.map((p) => p.y)),
          fill, scale);
      }
      for (const p of pts) {
        const c = svg("circle", { cx: p.x, cy: p.y, r: 4 * scale, fill: p.visible === false ? "none" : fill,
          stroke: "#fff", "stroke-width": 1.5 * scale, class: "point" });
        const title = svg("title"); title.textContent = p.name; c.append(title);
        g.append(c);
      }
    }
  }
  layer.append(group);
  return group;
}

// an <svg> laid over an image of width x height (scales with it: viewBox in pixels)
export function overlay(width, height) {
  return svg("svg", { class: "overlay", viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: "none", role: "img", "aria-label": "Annotations" });
}
