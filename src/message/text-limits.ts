/** Longest `topic` the `messages.topic VARCHAR(255)` column holds. */
export const MAX_TOPIC_LENGTH = 255;
/** Longest device, tenant or site id the `VARCHAR(100)` columns hold. */
export const MAX_ID_LENGTH = 100;
/** Longest firmware version the `devices.firmware_version VARCHAR(50)` column holds. */
export const MAX_FIRMWARE_VERSION_LENGTH = 50;

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
