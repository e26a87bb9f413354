import type { JsonValue } from "../message/types.js";

const LONE_SURROGATE = /\p{Surrogate}/u;
/** Characters that need an escape or a surrogate check; strings without them are written as is. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000–U+001F are exactly what JSON must escape
const NEEDS_CARE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** Where the serialiser is: the chain of member names and array indexes from the root. */
interface Walk {
  readonly trail: (string | number)[];
  readonly ancestors: Set<object>;
}

/**
 * RFC 8785 (JSON Canonicalization Scheme) serialisation of a JSON value: no whitespace, object
 * members sorted by the UTF-16 code units of their names, numbers as ECMAScript `String(n)`
 * spells them (`-0` becomes `"0"`), strings escaped as `JSON.stringify` escapes them.
 *
 * @remarks Only values `JSON.parse` can produce are accepted; anything else would give a hash
 * nobody can reproduce from the stored JSON.
 * @throws TypeError for NaN or ±Infinity, a string or member name with a lone UTF-16 surrogate
 * (not Unicode, so not I-JSON), `undefined`, functions, symbols, bigints, array holes, objects that
 * are not plain objects or arrays (Date, Map, Buffer, class instances), and cycles.
 * @example
 * ```ts
 * canonicalJson({ b: [1e21, -0], a: "€" }); // '{"a":"€","b":[1e+21,0]}'
 * ```
 */
export function canonicalJson(value: JsonValue): string {
  return serialize(value, { trail: [], ancestors: new Set<object>() });
}

function serialize(value: unknown, walk: Walk): string {
  switch (typeof value) {
    case "string":
      return serializeString(value, walk);
    case "number":
      if (!Number.isFinite(value)) {
        throw refusal(walk, `is ${value}, which is not a JSON number (RFC 8785 refuses it)`);
      }
      return String(value);
    case "boolean":
      return value ? "true" : "false";
    case "object":
      if (value === null) return "null";
      if (walk.ancestors.has(value)) throw refusal(walk, "refers back to itself (a cycle)");
      walk.ancestors.add(value);
      try {
        return Array.isArray(value) ? serializeArray(value, walk) : serializeObject(value, walk);
      } finally {
        walk.ancestors.delete(value);
      }
    default:
      throw refusal(walk, `is ${value === undefined ? "undefined" : `a ${typeof value}`}, not a JSON value`);
  }
}

function serializeString(text: string, walk: Walk): string {
  if (!NEEDS_CARE.test(text)) return `"${text}"`;
  if (LONE_SURROGATE.test(text)) {
    throw refusal(walk, "contains a lone UTF-16 surrogate, which is not Unicode text");
  }
  return JSON.stringify(text);
}

function serializeArray(array: readonly unknown[], walk: Walk): string {
  let out = "[";
  for (let index = 0; index < array.length; index++) {
    if (index > 0) out += ",";
    walk.trail.push(index);
    if (!(index in array)) throw refusal(walk, "is an array hole, not a JSON value");
    out += serialize(array[index], walk);
    walk.trail.pop();
  }
  return out + "]";
}

function serializeObject(object: object, walk: Walk): string {
  const prototype: unknown = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== null) {
    const name = (object as { constructor?: { name?: unknown } }).constructor?.name;
    throw refusal(
      walk,
      `is ${typeof name === "string" ? `a ${name}` : "an exotic object"}, not a plain JSON object`,
    );
  }
  const members = object as Record<string, unknown>;
  const names = Object.keys(members).sort();
  let out = "{";
  for (let index = 0; index < names.length; index++) {
    const name = names[index] as string;
    if (index > 0) out += ",";
    walk.trail.push(name);
    out += serializeString(name, walk);
    out += ":";
    out += serialize(members[name], walk);
    walk.trail.pop();
  }
  return out + "}";
}

function refusal(walk: Walk, problem: string): TypeError {
  const path = walk.trail
    .map((step) => (typeof step === "number" ? `[${step}]` : `[${JSON.stringify(step)}]`))
    .join("");
  return new TypeError(`canonicalJson: value at $${path} ${problem}`);
}
