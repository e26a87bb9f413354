/**
 * A problem in JSON text that `JSON.parse` accepts silently but veep-bridge refuses.
 * `offset` is a UTF-16 code unit index into the text.
 */
export type JsonTextIssue =
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

/** Decimal digits of `Number.MAX_SAFE_INTEGER` (2^53 − 1); it has 16 of them. */
const MAX_SAFE_DIGITS = String(Number.MAX_SAFE_INTEGER);

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isNumberTail(c: number): boolean {
  return isDigit(c) || c === LOWER_E || c === UPPER_E || c === PLUS || c === MINUS;
}

/**
 * Cheap pre-check: only a run of 16+ digits (an integer beyond 2^53 − 1, or a mantissa long
 * enough to overflow) or an exponent of 3+ digits can make a number token unsafe or infinite.
 */
function mayHoldNumberIssue(text: string): boolean {
  let run = 0;
  let exponent = false;
  let previousWasE = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) {
      run++;
      if (run >= MAX_SAFE_DIGITS.length || (exponent && run >= 3)) return true;
      continue;
    }
    const isE = c === LOWER_E || c === UPPER_E;
    exponent = isE || ((c === PLUS || c === MINUS) && previousWasE);
    previousWasE = isE;
    run = 0;
  }
  return false;
}

function hex4(text: string, at: number): number {
  return Number.parseInt(text.slice(at, at + 4), 16);
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

function isKeyAt(text: string, stringStart: number): boolean {
  let i = stringStart + 1;
  while (text.charCodeAt(i) !== QUOTE) i += text.charCodeAt(i) === BACKSLASH ? 2 : 1;
  i++;
  while (i < text.length && text.charCodeAt(i) <= 0x20) i++;
  return text.charCodeAt(i) === COLON;
}

function isUnsafeInteger(text: string, digitsStart: number, digitsEnd: number): boolean {
  const count = digitsEnd - digitsStart;
  if (count !== MAX_SAFE_DIGITS.length) return count > MAX_SAFE_DIGITS.length;
  return text.slice(digitsStart, digitsEnd) > MAX_SAFE_DIGITS;
}

interface Findings {
  unsafe?: JsonTextIssue;
  nul?: JsonTextIssue;
  lone?: JsonTextIssue;
}

/** Scans the string starting at the quote at `start`; returns the index after its closing quote. */
function scanString(text: string, start: number, findings: Findings): number {
  let i = start + 1;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c !== BACKSLASH) {
      i++;
      continue;
    }
    if (text.charCodeAt(i + 1) !== LOWER_U) {
      i += 2;
      continue;
    }
    const unit = hex4(text, i + 2);
    if (unit === 0) {
      findings.nul ??= { kind: "nul_character", offset: i, inKey: isKeyAt(text, start) };
    } else if (unit >= 0xd800 && unit <= 0xdbff) {
      const paired = text.charCodeAt(i + 6) === BACKSLASH && text.charCodeAt(i + 7) === LOWER_U;
      if (paired && isLowSurrogate(hex4(text, i + 8))) {
        i += 12;
        continue;
      }
      findings.lone ??= { kind: "lone_surrogate", offset: i, inKey: isKeyAt(text, start), codeUnit: unit };
    } else if (isLowSurrogate(unit)) {
      findings.lone ??= { kind: "lone_surrogate", offset: i, inKey: isKeyAt(text, start), codeUnit: unit };
    }
    i += 6;
  }
}

/**
 * Scans the number token at `start`; returns the index after it, or a non-finite issue (which
 * outranks everything else, so the caller stops there).
 */
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

/**
 * Finds what {@link JsonTextIssue} describes in text that `JSON.parse` has already accepted, in one
 * linear pass over the text (skipped entirely when a cheap pre-check shows nothing can be found):
 *
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
 * When several are present the result is, in this order of precedence, the first non-finite
 * number, else the first unsafe integer, else the first NUL, else the first lone surrogate.
 *
 * @param text - JSON text that `JSON.parse` accepts
 * @returns the issue, or `undefined` when there is none
 */
export function findJsonTextIssue(text: string): JsonTextIssue | undefined {
  const checkNumbers = mayHoldNumberIssue(text);
  const checkEscapes = text.includes("\\u");
  if (!checkNumbers && !checkEscapes) return undefined;

  const findings: Findings = {};
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = scanString(text, i, findings);
      if (findings.nul && !checkNumbers) return findings.nul;
    } else if (c === MINUS || isDigit(c)) {
      const next = scanNumber(text, i, findings);
      if (typeof next !== "number") return next;
      i = next;
    } else {
      i++;
    }
  }
  return findings.unsafe ?? findings.nul ?? findings.lone;
}
