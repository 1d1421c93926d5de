// RFC 8785 (JSON Canonicalization Scheme): object keys sorted by their UTF-16 code units,
// strings and numbers serialized as ECMAScript's JSON.stringify does, no whitespace.
// Non-finite numbers (NaN, Infinity) cannot be canonicalized and throw.

export function canonicalize(value) {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`JCS: non-finite number ${value}`);
      return JSON.stringify(value); // -0 -> "0", 1e21 -> "1e+21"
    case "string":
      return JSON.stringify(value);
    case "object":
      if (Array.isArray(value)) return `[${value.map(canonicalize).join(",")}]`;
      // the default sort compares UTF-16 code units, as RFC 8785 asks
      return `{${Object.keys(value).sort()
        .filter((k) => value[k] !== undefined)
        .map((k) => `${JSON.stringify(k)}:${canonicalize(value[k])}`).join(",")}}`;
    default:
      throw new TypeError(`JCS: cannot canonicalize a ${typeof value}`);
  }
}

// the canonical form as UTF-8 bytes
export function canonicalBytes(value) {
  return new TextEncoder().encode(canonicalize(value));
}
