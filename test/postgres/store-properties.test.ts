import { createHash } from "node:crypto";
import fc from "fast-check";
import { canonicalize } from "json-canonicalize";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createDecoder,
  type Reading,
  type Rejection,
  type RejectionReason,
} from "../../src/message/index.js";
import { OpenBatch, type PgFixture, pgFixture } from "./helpers.js";

/**
 * 10,000 generated topics and payloads through the decoder (a fast-check property, shrunk on
 * failure), then the same samples into PostgreSQL in 4 appends of 2,500. A failure names the seed;
 * set VEEP_PROPERTY_SEED to replay it (the default is fixed, so CI runs the same cases every time).
 */
const SAMPLES = 10_000;
const APPENDS = 4;
const SEED = Number(process.env.VEEP_PROPERTY_SEED ?? 13_042);
const MAX_PAYLOAD_BYTES = 65_536;
/** Nesting the independent canonicaliser below is trusted with (it recurses). */
const SHALLOW = 200;

interface Sample {
  readonly topic: string;
  readonly bytes: Uint8Array;
  /** For generated deep nesting: the canonical JSON the payload must have (whitespace-free digits only). */
  readonly deepCanonical?: string;
}

const encoder = new TextEncoder();
const utf8 = (text: string): Uint8Array => encoder.encode(text);

const HOSTILE_PIECES = [
  "'; DROP TABLE messages; --",
  "\\",
  '"',
  "'",
  "\\.",
  "\\N",
  "\t",
  "\n",
  "\r",
  "\u0000",
  "\ud800",
  "\udc00",
  "😀",
  "\ufeff",
  "%",
  "$",
  " ",
  "+",
  "#",
  "/",
  "",
];
const utf16 = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 8 })
  .map((units) => String.fromCharCode(...units));
const segment = fc.oneof(
  { weight: 10, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 12 }) },
  { weight: 3, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 12 }) },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.constantFrom(...HOSTILE_PIECES), { minLength: 1, maxLength: 4 })
      .map((a) => a.join("")),
  },
  { weight: 1, arbitrary: utf16 },
  { weight: 1, arbitrary: fc.integer({ min: 95, max: 105 }).map((n) => "x".repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 95, max: 105 }).map((n) => "😀".repeat(n)) },
);
const segments = fc.tuple(segment, segment, segment);
const strayTopic = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "veep/a/b/c/data/extra",
    "veep//b/c/data",
    "veep/a/b/c/status",
    "'; DROP TABLE messages; --",
    "",
  ),
);

const key = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: "grapheme", maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) },
  { weight: 1, arbitrary: utf16 },
  { weight: 1, arbitrary: fc.constantFrom("deviceId", "metadata", "__proto__", "constructor", "a", "") },
);
const jsonValue = fc.jsonValue({ maxDepth: 4, stringUnit: "binary" });
const numberToken = fc.oneof(
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  fc.bigInt({ min: -(2n ** 55n), max: 2n ** 55n }).map(String),
  fc.constantFrom(
    "-0",
    "-0.0e-0",
    "1e309",
    "-1e309",
    "1E+2",
    "5e-324",
    "1e-400",
    "1.7976931348623157e308",
    "1.7976931348623159e308",
    "123456789012345678901234567890.5",
    "9007199254740991",
    "9007199254740992",
    "-9007199254740993",
    "1e+0308",
    "0.1",
  ),
  fc
    .tuple(
      fc.integer({ min: -99_999, max: 99_999 }),
      fc.nat(99),
      fc.integer({ min: -400, max: 400 }),
      fc.boolean(),
    )
    .map(([m, f, e, upper]) => `${m}.${f}${upper ? "E" : "e"}${e >= 0 ? "+" : ""}${e}`),
);
/** Member text from [key, value text] pairs: duplicate keys stay in. */
const members = (pairs: ReadonlyArray<readonly [string, string]>): string =>
  pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",");
const plainMembers = fc.array(
  fc.tuple(
    key,
    jsonValue.map((v) => JSON.stringify(v)),
  ),
  { maxLength: 6 },
);
const duplicateMembers = fc.array(
  fc.tuple(
    fc.constantFrom("a", "b", "deviceId", "metadata"),
    jsonValue.map((v) => JSON.stringify(v)),
  ),
  { minLength: 2, maxLength: 6 },
);
const numberMembers = fc
  .array(numberToken, { minLength: 1, maxLength: 5 })
  .map((tokens) => tokens.map((t, i) => [`n${i}`, t] as const));
const escapeMembers = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 6 })
  .map((units) => [
    ["s", `"${units.map((u) => `\\u${u.toString(16).padStart(4, "0")}`).join("")}"`] as const,
  ]);
const firmwareMembers = fc
  .string({ unit: "grapheme", maxLength: 60 })
  .map((v) => [["metadata", `{"firmware_version":${JSON.stringify(v)}}`] as const]);

type DeviceClaim = "none" | "same" | "other";
const objectText = fc
  .tuple(
    fc.oneof(plainMembers, duplicateMembers, numberMembers, escapeMembers, firmwareMembers),
    fc.constantFrom<DeviceClaim>("none", "none", "same", "same", "other"),
    fc.boolean(),
    fc.constantFrom("", " ", "\n\t"),
  )
  .map(([pairs, claim, first, space]) => (device: string) => {
    const claimed: Array<readonly [string, string]> =
      claim === "none" ? [] : [["deviceId", JSON.stringify(claim === "same" ? device : `${device}x`)]];
    const all = first ? [...claimed, ...pairs] : [...pairs, ...claimed];
    return utf8(`${space}{${space}${members(all)}${space}}${space}`);
  });
const deepText = fc
  .tuple(
    fc.oneof(fc.integer({ min: 990, max: 1_010 }), fc.integer({ min: 1, max: 5_000 })),
    fc.boolean(),
    fc.nat(1000),
  )
  .map(([depth, arrays, leaf]) => {
    const open = arrays ? "[" : '{"k":';
    const close = arrays ? "]" : "}";
    return `{"deep":${open.repeat(depth)}${leaf}${close.repeat(depth)}}`;
  });
const payloadBytes = fc.oneof(
  fc.uint8Array({ maxLength: 120 }),
  jsonValue.map((v) => utf8(JSON.stringify(v) ?? "")),
  fc
    .tuple(jsonValue, fc.nat(), fc.constantFrom(0x00, 0x22, 0x5c, 0x7f, 0x80, 0xc0, 0xed, 0xf5, 0xff))
    .map(([v, at, byte]) => {
      const b = utf8(JSON.stringify({ v }));
      b[at % b.length] = byte;
      return b;
    }),
  fc
    .uint8Array({ minLength: 1, maxLength: 6 })
    .map((junk) =>
      Buffer.concat([Buffer.from('{"s":"'), Buffer.from(junk.map((b) => b | 0x80)), Buffer.from('"}')]),
    ),
  fc
    .integer({ min: MAX_PAYLOAD_BYTES - 20, max: MAX_PAYLOAD_BYTES + 20 })
    .map((n) => utf8(`{"s":"${"x".repeat(n - 8)}"}`)),
);

const sample: fc.Arbitrary<Sample> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.tuple(segments, objectText, fc.boolean()).map(([[t, s, d], build, bom]) => {
      const bytes = build(d);
      return {
        topic: `veep/${t}/${s}/${d}/data`,
        bytes: bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]) : bytes,
      };
    }),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(segments, payloadBytes)
      .map(([[t, s, d], bytes]) => ({ topic: `veep/${t}/${s}/${d}/data`, bytes })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(segments, deepText).map(([[t, s, d], text]) => ({
      topic: `veep/${t}/${s}/${d}/data`,
      bytes: utf8(text),
      deepCanonical: text,
    })),
  },
  { weight: 1, arbitrary: fc.tuple(strayTopic, payloadBytes).map(([topic, bytes]) => ({ topic, bytes })) },
);

// ---------------------------------------------------------------- independent oracle

const LONE = /\p{Surrogate}/u;
const codePoints = (s: string): number => [...s].length;
const sha256 = (s: string): string => createHash("sha256").update(s, "utf8").digest("hex");

interface Facts {
  topicParts: [string, string, string] | null;
  topicTooLong: boolean;
  topicNul: boolean;
  topicLone: boolean;
  validUtf8: boolean;
  text: string | null;
  value: unknown;
  parses: boolean;
  isObject: boolean;
  depth: number;
  nonFinite: boolean;
  nul: boolean;
  lone: boolean;
  deviceMismatch: boolean;
  firmwareTooLong: boolean;
}

function walk(value: unknown, visit: (v: unknown, depth: number) => void): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    deepest = Math.max(deepest, depth);
    visit(v, depth);
    if (Array.isArray(v)) for (const c of v) stack.push([c, depth + 1]);
    else if (v !== null && typeof v === "object") {
      for (const [k, c] of Object.entries(v)) {
        visit(k, depth + 1);
        stack.push([c, depth + 1]);
      }
    }
  }
  return deepest;
}

function factsOf({ topic, bytes }: Sample): Facts {
  const parts = topic.split("/");
  const shaped =
    parts.length === 5 &&
    parts[0] === "veep" &&
    parts[4] === "data" &&
    parts.slice(1, 4).every((p) => p !== "");
  const topicParts = shaped ? ([parts[1]!, parts[2]!, parts[3]!] as [string, string, string]) : null;
  const facts: Facts = {
    topicParts,
    topicTooLong:
      topicParts !== null && (codePoints(topic) > 255 || topicParts.some((p) => codePoints(p) > 100)),
    topicNul: topic.includes("\u0000"),
    topicLone: LONE.test(topic),
    validUtf8: Buffer.from(Buffer.from(bytes).toString("utf8"), "utf8").equals(Buffer.from(bytes)),
    text: null,
    value: undefined,
    parses: false,
    isObject: false,
    depth: 0,
    nonFinite: false,
    nul: false,
    lone: false,
    deviceMismatch: false,
    firmwareTooLong: false,
  };
  if (!facts.validUtf8) return facts;
  const decoded = Buffer.from(bytes).toString("utf8");
  const text = decoded.startsWith("\ufeff") ? decoded.slice(1) : decoded;
  facts.text = text;
  try {
    facts.value = JSON.parse(text);
    facts.parses = true;
  } catch {
    return facts;
  }
  const v = facts.value;
  facts.isObject = typeof v === "object" && v !== null && !Array.isArray(v);
  facts.depth = walk(v, (x) => {
    if (typeof x === "number" && !Number.isFinite(x)) facts.nonFinite = true;
    if (typeof x === "string") {
      if (x.includes("\u0000")) facts.nul = true;
      if (LONE.test(x)) facts.lone = true;
    }
  });
  if (facts.isObject && topicParts !== null) {
    const o = v as Record<string, unknown>;
    facts.deviceMismatch = Object.hasOwn(o, "deviceId") && o["deviceId"] !== topicParts[2];
    const m = o["metadata"];
    if (typeof m === "object" && m !== null && !Array.isArray(m) && Object.hasOwn(m, "firmware_version")) {
      const f = (m as Record<string, unknown>)["firmware_version"];
      facts.firmwareTooLong = typeof f === "string" && codePoints(f) > 50;
    }
  }
  return facts;
}

/** Whether the facts of the sample justify the decoder's reason. */
function justified(reason: RejectionReason, s: Sample, f: Facts): boolean {
  switch (reason) {
    case "too_large":
      return s.bytes.byteLength > MAX_PAYLOAD_BYTES;
    case "topic_mismatch":
      return f.topicParts === null;
    case "field_too_long":
      return f.topicTooLong || f.firmwareTooLong;
    // The text is checked, members a later duplicate key replaces included.
    case "nul_character":
      return f.topicNul || f.nul || /\\u0000/.test(f.text ?? "");
    case "lone_surrogate":
      return f.topicLone || f.lone || /\\u[dD][89a-fA-F]/.test(f.text ?? "");
    case "invalid_utf8":
      return !f.validUtf8;
    case "invalid_json":
      return (
        f.text === "" || !f.parses || f.nonFinite || f.depth >= 1000 || /[eE][+-]?\d{3}/.test(f.text ?? "")
      );
    case "not_an_object":
      return f.parses && !f.isObject;
    case "unsafe_integer":
      return f.text !== null && /\d{16}/.test(f.text);
    case "device_mismatch":
      return f.deviceMismatch;
    default:
      return false;
  }
}

/** What PostgreSQL keeps of a dead letter's topic: U+0000 and lone surrogates as `\uXXXX`. */
function storedTopic(topic: string): string {
  let out = "";
  for (const ch of topic) {
    const unit = ch.charCodeAt(0);
    out += unit === 0 || LONE.test(ch) ? `\\u${unit.toString(16).padStart(4, "0")}` : ch;
  }
  return out;
}

/** Independent canonical JSON of what a message's payload holds (`null` when too deep to recurse). */
function expectedCanonical(s: Sample, f: Facts): string | null {
  if (f.depth <= SHALLOW) return canonicalize(f.value);
  return s.deepCanonical ?? null;
}

function checkAccepted(s: Sample, f: Facts, reading: Reading): void {
  expect(f.topicParts, "accepted a topic that does not match").not.toBeNull();
  const [tenant, site, device] = f.topicParts!;
  expect([reading.tenantId, reading.siteId, reading.deviceId, reading.topic]).toEqual([
    tenant,
    site,
    device,
    s.topic,
  ]);
  expect(s.bytes.byteLength).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
  expect(f.depth, "accepted more than 1000 nested arrays and objects").toBeLessThanOrEqual(1000);
  expect({
    topicTooLong: f.topicTooLong,
    topicNul: f.topicNul,
    topicLone: f.topicLone,
    validUtf8: f.validUtf8,
    parses: f.parses,
    isObject: f.isObject,
    nonFinite: f.nonFinite,
    nul: f.nul,
    lone: f.lone,
    deviceMismatch: f.deviceMismatch,
    firmwareTooLong: f.firmwareTooLong,
  }).toEqual({
    topicTooLong: false,
    topicNul: false,
    topicLone: false,
    validUtf8: true,
    parses: true,
    isObject: true,
    nonFinite: false,
    nul: false,
    lone: false,
    deviceMismatch: false,
    firmwareTooLong: false,
  });
  const canonical = expectedCanonical(s, f);
  if (canonical !== null) expect(reading.canonicalJson).toBe(canonical);
  expect(reading.messageHash).toBe(sha256(reading.canonicalJson));
  expect(reading.rawPayload).toBe(s.bytes);
  expect(reading.byteLength).toBe(s.bytes.byteLength);
}

const TYPED: ReadonlySet<RejectionReason> = new Set([
  "invalid_utf8",
  "invalid_json",
  "not_an_object",
  "unsafe_integer",
  "nul_character",
  "lone_surrogate",
  "too_large",
  "topic_mismatch",
  "device_mismatch",
  "field_too_long",
]);

interface Decoded {
  readonly sample: Sample;
  readonly facts: Facts;
  readonly reading?: Reading;
  readonly rejection?: Rejection;
}

/** Appends one group of decoded samples and checks what PostgreSQL kept of each. */
async function storeAndCheck(fx: PgFixture, group: readonly Decoded[]) {
  const seen = new Set<string>();
  const readings: Reading[] = [];
  for (const { reading } of group) {
    if (reading === undefined) continue;
    const key = `${reading.messageHash}|${reading.deviceId}`;
    if (!seen.has(key)) readings.push(reading);
    seen.add(key);
  }
  const rejections = group.flatMap((d) => (d.rejection === undefined ? [] : [d.rejection]));
  const { rows: before } = await fx.sql.query<{ id: string | null }>(
    "SELECT max(id)::text AS id FROM dead_letters",
  );
  const batch = new OpenBatch();
  const result = await fx.store.append(batch.request(readings, rejections));
  if (result.plan) batch.apply(result.plan);
  const stored = result.plan?.leaves.map((l) => l.reading) ?? [];
  expect(stored.length + result.duplicates.length + result.refused.length).toBe(readings.length);
  for (const r of result.refused)
    expect([r.reason, r.detail]).toEqual(["store_refused", expect.stringMatching(/^SQLSTATE /)]);

  const { rows } = await fx.sql.query<{
    message_id: string;
    topic: string;
    device_id: string;
    message_hash: string;
    raw: string;
  }>(
    "SELECT message_id, topic, device_id, message_hash, raw_data::text AS raw FROM messages WHERE message_id = ANY($1::uuid[])",
    [stored.map((r) => r.messageId)],
  );
  expect(rows).toHaveLength(stored.length);
  const byId = new Map(rows.map((r) => [r.message_id, r]));
  const decoded = new Map(group.map((d) => [d.reading, d]));
  for (const reading of stored) {
    const row = byId.get(reading.messageId)!;
    const { sample, facts } = decoded.get(reading)!;
    const what = `stored ${JSON.stringify(sample.topic)} ${Buffer.from(sample.bytes).toString("hex").slice(0, 400)}`;
    expect([row.topic, row.device_id, row.message_hash], what).toEqual([
      reading.topic,
      reading.deviceId,
      reading.messageHash,
    ]);
    if (facts.depth <= SHALLOW)
      expect(sha256(canonicalize(JSON.parse(row.raw))), what).toBe(row.message_hash);
    else if (sample.deepCanonical !== undefined)
      expect(row.raw.replace(/\s/g, ""), what).toBe(sample.deepCanonical);
  }
  if (result.plan) {
    const verified = [];
    for await (const v of fx.store.verifyBatches({ batchId: batch.batchId })) verified.push(v);
    expect(verified.map((v) => [v.ok, v.leafCount, v.failure])).toEqual([[true, stored.length, null]]);
  }

  const repeated = new Set(result.duplicateRejections ?? []);
  const recorded = [...rejections, ...result.refused].filter((r) => !repeated.has(r));
  const { rows: letters } = await fx.sql.query<{
    topic: string;
    device_id: string | null;
    payload: Buffer;
    reason: string;
  }>("SELECT topic, device_id, payload, reason FROM dead_letters WHERE id > $1 ORDER BY id", [
    before[0]?.id ?? "0",
  ]);
  expect(letters.map((l) => [l.reason, l.topic, l.device_id, l.payload.toString("hex")])).toEqual(
    recorded.map((r) => [
      r.reason,
      storedTopic(r.topic),
      r.deviceId ?? null,
      Buffer.from(r.payload).toString("hex"),
    ]),
  );
  return { stored: stored.length, duplicates: result.duplicates.length, refused: result.refused.length };
}

describe("generated topics and payloads through the decoder and the PostgreSQL store", () => {
  let fx: PgFixture;
  beforeAll(async () => {
    fx = await pgFixture();
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it(`${SAMPLES} samples: typed rejections only, every stored reading verbatim and verified (seed ${SEED})`, async () => {
    const decoder = createDecoder({ maxPayloadBytes: MAX_PAYLOAD_BYTES });
    const decoded: Decoded[] = [];
    const reasons = new Map<string, number>();
    fc.assert(
      fc.property(sample, (s) => {
        const result = decoder.decode({ topic: s.topic, payload: s.bytes, receivedAt: new Date() });
        const facts = factsOf(s);
        if (result.ok) {
          checkAccepted(s, facts, result.reading);
          decoded.push({ sample: s, facts, reading: result.reading });
          return;
        }
        const { rejection } = result;
        expect(TYPED.has(rejection.reason), rejection.reason).toBe(true);
        expect(justified(rejection.reason, s, facts), `${rejection.reason}: ${rejection.detail}`).toBe(true);
        expect(rejection.payload).toBe(s.bytes);
        expect(rejection.topic).toBe(s.topic);
        reasons.set(rejection.reason, (reasons.get(rejection.reason) ?? 0) + 1);
        decoded.push({ sample: s, facts, rejection });
      }),
      { numRuns: SAMPLES, seed: SEED },
    );
    expect(decoded).toHaveLength(SAMPLES);
    for (const reason of TYPED) expect(reasons.get(reason) ?? 0, reason).toBeGreaterThan(0);

    const totals = {
      accepted: decoded.filter((d) => d.reading).length,
      stored: 0,
      duplicates: 0,
      refused: 0,
    };
    const size = Math.ceil(SAMPLES / APPENDS);
    for (let i = 0; i < SAMPLES; i += size) {
      try {
        const counts = await storeAndCheck(fx, decoded.slice(i, i + size));
        totals.stored += counts.stored;
        totals.duplicates += counts.duplicates;
        totals.refused += counts.refused;
      } catch (error) {
        throw new Error(
          `store check failed for samples ${i}–${i + size - 1} of seed ${SEED}: ${String(error)}`,
          {
            cause: error,
          },
        );
      }
    }
    console.info(
      `store properties (seed ${SEED}): ${JSON.stringify(totals)}, rejections ${JSON.stringify(Object.fromEntries(reasons))}`,
    );
    expect(totals.stored).toBeGreaterThan(SAMPLES * 0.2);
  }, 120_000);
});
