/** Longest `topic` the `messages.topic VARCHAR(255)` column holds. */
export const MAX_TOPIC_LENGTH = 255;
/** Longest device, tenant or site id the `VARCHAR(100)` columns hold. */
export const MAX_ID_LENGTH = 100;
/** Longest firmware version the `devices.firmware_version VARCHAR(50)` column holds. */
export const MAX_FIRMWARE_VERSION_LENGTH = 50;
/**
 * Most arrays and objects a payload may nest inside one another (the payload object counts as one):
 * far below what canonicalising (and verifying later, from any call stack) or PostgreSQL's JSONB
 * parser at its default `max_stack_depth` can take, so acceptance does not depend on either.
 */
export const MAX_NESTING_DEPTH = 1000;

/**
 * Number of characters PostgreSQL counts in `text` (Unicode code points: a surrogate pair is one).
 *
 * @param text - any string
 * @returns its length in code points
 */
export function codePointLength(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        count--;
        i++;
      }
    }
  }
  return count;
}

/**
 * Whether `text` has more than `limit` characters as a `VARCHAR(limit)` column counts them.
 *
 * @param text - the value
 * @param limit - the column's length
 * @returns `true` when it does not fit
 */
export function exceedsLength(text: string, limit: number): boolean {
  return text.length > limit && codePointLength(text) > limit;
}

/**
 * Index of the first unpaired UTF-16 surrogate in `text`.
 *
 * @param text - any string
 * @returns the index, or `-1` when the string is well-formed
 */
export function firstLoneSurrogate(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = text.charCodeAt(i + 1);
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      i++;
      continue;
    }
    return i;
  }
  return -1;
}

/**
 * A short, quoted rendering of a value for a rejection detail.
 *
 * @param text - the value
 * @param max - how many code units to keep before eliding
 * @returns the JSON-quoted, possibly shortened value
 */
export function preview(text: string, max = 60): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** C0 and C1 controls, DEL, line and paragraph separators, bidirectional embeddings, overrides and isolates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what it finds
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with every control character (C0, DEL, C1), line or paragraph separator and bidirectional
 * control written as its `\uXXXX` escape: what a rejection detail or a log line may show of input
 * without moving a terminal's cursor, starting a forged log line, or reordering what is displayed.
 *
 * @param text - any string
 * @returns the string, unchanged when it holds none of those
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
