import { MAX_NESTING_DEPTH } from "./text-limits.js";

/**
 * A problem in JSON text that `JSON.parse` accepts silently but veep-bridge refuses.
 * `offset` is a UTF-16 code unit index into the text.
 */
export type JsonTextIssue =
  | { readonly kind: "too_deep"; readonly offset: number; readonly limit: number }
  | { readonly kind: "non_finite_number"; readonly offset: number; readonly token: string }
  | { readonly kind: "unsafe_integer"; readonly offset: number; readonly token: string }
  | { readonly kind: "nul_character"; readonly offset: number; readonly inKey: boolean }
  | {
      readonly kind: "lone_surrogate";
      readonly offset: number;
      readonly inKey: boolean;
      readonly codeUnit: number;
    };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const LOWER_U = 0x75;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** Decimal digits of `Number.MAX_SAFE_INTEGER` (2^53 − 1); it has 16 of them. */
const MAX_SAFE_DIGITS = String(Number.MAX_SAFE_INTEGER);

/**
 * Only a run of 16+ digits (an integer beyond 2^53 − 1, or a mantissa long enough to overflow)
 * or an exponent of 3+ digits can make a number token unsafe or infinite. Bounded quantifiers
 * only: at most 16 characters are examined per start position, so matching is linear.
 */
const NUMBER_HINT = /\d{16}|[eE][+-]?\d{3}/;

interface EscapeFindings {
  nul?: number;
  lone?: { readonly offset: number; readonly codeUnit: number };
}

interface Findings extends EscapeFindings {
  unsafe?: JsonTextIssue;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isNumberTail(c: number): boolean {
  return isDigit(c) || c === LOWER_E || c === UPPER_E || c === PLUS || c === MINUS;
}

function hex4(text: string, at: number): number {
  return Number.parseInt(text.slice(at, at + 4), 16);
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

function isUnsafeInteger(text: string, digitsStart: number, digitsEnd: number): boolean {
  const count = digitsEnd - digitsStart;
  if (count !== MAX_SAFE_DIGITS.length) return count > MAX_SAFE_DIGITS.length;
  return text.slice(digitsStart, digitsEnd) > MAX_SAFE_DIGITS;
}

/** Records what the `\u` escape at `at` holds; returns its length (12 for a surrogate pair). */
function checkUnicodeEscape(text: string, at: number, findings: EscapeFindings): number {
  const unit = hex4(text, at + 2);
  if (unit === 0) {
    findings.nul ??= at;
  } else if (unit >= 0xd800 && unit <= 0xdbff) {
    const paired = text.charCodeAt(at + 6) === BACKSLASH && text.charCodeAt(at + 7) === LOWER_U;
    if (paired && isLowSurrogate(hex4(text, at + 8))) return 12;
    findings.lone ??= { offset: at, codeUnit: unit };
  } else if (isLowSurrogate(unit)) {
    findings.lone ??= { offset: at, codeUnit: unit };
  }
  return 6;
}

/**
 * Whether the character at `at` is not escaped: a backslash there starts an escape (it is not the
 * second half of `\\`), a quote there ends a string.
 */
function isUnescaped(text: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && text.charCodeAt(i) === BACKSLASH) i--;
  return (at - 1 - i) % 2 === 0;
}

/** Offset of the first array or object opened more than `limit` deep (strings skipped), or -1. */
function tooDeepAt(text: string, limit: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      do i = text.indexOf('"', i + 1);
      while (i > 0 && !isUnescaped(text, i));
      if (i < 0) return -1;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > limit) return i;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return -1;
}

/** Escapes only (no number can be at fault): jump from `\u` to `\u` with the native `indexOf`. */
function scanEscapes(text: string, findings: EscapeFindings): void {
  let i = text.indexOf("\\u");
  while (i !== -1 && findings.nul === undefined) {
    i = isUnescaped(text, i) ? i + checkUnicodeEscape(text, i, findings) : i + 1;
    i = text.indexOf("\\u", i);
  }
}

/** Returns the index after the string whose opening quote is at `start`. */
function scanString(text: string, start: number, findings: EscapeFindings): number {
  let i = start + 1;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c !== BACKSLASH) i++;
    else if (text.charCodeAt(i + 1) === LOWER_U) i += checkUnicodeEscape(text, i, findings);
    else i += 2;
  }
}

/** Returns the index after the number token at `start`, or the issue if it overflows a double. */
function scanNumber(text: string, start: number, findings: Findings): number | JsonTextIssue {
  let i = start;
  if (text.charCodeAt(i) === MINUS) i++;
  const digitsStart = i;
  while (isDigit(text.charCodeAt(i))) i++;
  const next = text.charCodeAt(i);
  if (next !== DOT && next !== LOWER_E && next !== UPPER_E) {
    if (findings.unsafe === undefined && isUnsafeInteger(text, digitsStart, i)) {
      findings.unsafe = { kind: "unsafe_integer", offset: start, token: text.slice(start, i) };
    }
    return i;
  }
  i++;
  while (isNumberTail(text.charCodeAt(i))) i++;
  const token = text.slice(start, i);
  if (!Number.isFinite(Number(token))) return { kind: "non_finite_number", offset: start, token };
  return i;
}

/** Full pass: strings and number tokens. */
function scanAll(text: string, findings: Findings): JsonTextIssue | undefined {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = scanString(text, i, findings);
    } else if (c === MINUS || isDigit(c)) {
      const next = scanNumber(text, i, findings);
      if (typeof next !== "number") return next;
      i = next;
    } else {
      i++;
    }
  }
  return undefined;
}

/** Whether the string containing `offset` is an object key (followed by `:`). Error path only. */
function isInKey(text: string, offset: number): boolean {
  let i = 0;
  while (i < text.length) {
    if (text.charCodeAt(i) !== QUOTE) {
      i++;
      continue;
    }
    i++;
    while (text.charCodeAt(i) !== QUOTE) i += text.charCodeAt(i) === BACKSLASH ? 2 : 1;
    i++;
    if (i > offset) break;
  }
  while (i < text.length && text.charCodeAt(i) <= 0x20) i++;
  return text.charCodeAt(i) === COLON;
}

function escapeIssue(text: string, findings: EscapeFindings): JsonTextIssue | undefined {
  if (findings.nul !== undefined) {
    return { kind: "nul_character", offset: findings.nul, inKey: isInKey(text, findings.nul) };
  }
  const { lone } = findings;
  if (lone === undefined) return undefined;
  return { kind: "lone_surrogate", ...lone, inKey: isInKey(text, lone.offset) };
}

/**
 * Finds what {@link JsonTextIssue} describes in text that `JSON.parse` has already accepted, in at
 * most two linear passes (none when cheap pre-checks show nothing can be found):
 *
 * - arrays and objects nested more than {@link MAX_NESTING_DEPTH} deep (only text longer than twice
 *   the limit can be);
 * - a number token too large for a double (`1e400`), which `JSON.parse` turns into `Infinity`
 *   and RFC 8785 cannot represent;
 * - an integer literal (a number token with neither fraction nor exponent) whose absolute value
 *   exceeds 2^53 − 1, because `JSON.parse` rounds it silently (`9007199254740993` becomes
 *   `…992`). A token with a fraction or exponent (`1e300`, `12345678901234567890.5`) is a
 *   floating-point number by its writer's choice and is accepted;
 * - a `\u0000` escape in a string or key (raw U+0000 cannot appear in valid JSON text);
 * - a `\uD800`–`\uDFFF` escape that is not half of a high-low pair (raw lone surrogates cannot
 *   come out of a strict UTF-8 decoder).
 *
 * When several are present the result is, in this order of precedence, too deep a nesting, else
 * the first non-finite number, else the first unsafe integer, else the first NUL, else the first
 * lone surrogate.
 *
 * @param text - JSON text that `JSON.parse` accepts
 * @returns the issue, or `undefined` when there is none
 */
export function findJsonTextIssue(text: string): JsonTextIssue | undefined {
  if (text.length > 2 * MAX_NESTING_DEPTH) {
    const offset = tooDeepAt(text, MAX_NESTING_DEPTH);
    if (offset >= 0) return { kind: "too_deep", offset, limit: MAX_NESTING_DEPTH };
  }
  const findings: Findings = {};
  if (NUMBER_HINT.test(text)) {
    const overflow = scanAll(text, findings);
    if (overflow) return overflow;
    if (findings.unsafe) return findings.unsafe;
  } else if (text.includes("\\u")) {
    scanEscapes(text, findings);
  }
  return escapeIssue(text, findings);
}
