import type { PgCustomTypes } from "./pg-types.js";

const OID = {
  int8: 20,
  int2: 21,
  int4: 23,
  float4: 700,
  float8: 701,
  numeric: 1700,
  timestamptz: 1184,
  bool: 16,
};

const TIMESTAMPTZ =
  /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d+)?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?|Z)?( BC)?$/;

/**
 * Parses PostgreSQL's ISO text output of `timestamptz` (e.g. `2025-10-01 10:00:00.123+02`) into a Date.
 * @throws RangeError for any other format.
 */
export function parseTimestamptz(text: string): Date {
  if (text === "infinity") return new Date(8.64e15);
  if (text === "-infinity") return new Date(-8.64e15);
  const m = TIMESTAMPTZ.exec(text);
  if (!m) throw new RangeError(`unexpected timestamptz text: ${text}`);
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os, bc] = m;
  let year = Number(y);
  if (bc) year = 1 - year;
  const ms = frac ? Math.round(Number(`0${frac}`) * 1000) : 0;
  const utc = Date.UTC(0, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  const date = new Date(utc);
  date.setUTCFullYear(year);
  const offsetSeconds = sign
    ? (sign === "-" ? -1 : 1) * (Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0))
    : 0;
  return new Date(date.getTime() - offsetSeconds * 1000);
}

function parseSafeInteger(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`integer ${text} is beyond Number.MAX_SAFE_INTEGER`);
  return value;
}

const identity = (text: string): string => text;

/**
 * The type parsers every query of the store uses, passed per query (pg's `types` option), so the
 * global parsers of an application's pool are neither used nor changed: `bigint`/`int`/`numeric`
 * → `number` (a bigint beyond 2^53 throws rather than silently rounding), `timestamptz` → `Date`,
 * `boolean` → `boolean`, everything else (text, varchar, uuid, jsonb selected as text) → `string`.
 */
export const storeTypes: PgCustomTypes = {
  getTypeParser(oid: number) {
    switch (oid) {
      case OID.int8:
      case OID.int2:
      case OID.int4:
        return parseSafeInteger;
      case OID.float4:
      case OID.float8:
      case OID.numeric:
        return Number;
      case OID.timestamptz:
        return parseTimestamptz;
      case OID.bool:
        return (text: string) => text === "t" || text === "true";
      default:
        return identity;
    }
  },
};
