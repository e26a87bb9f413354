import { createHash } from "node:crypto";
import { canonicalize } from "json-canonicalize";
import pg from "pg";
import { expect } from "vitest";
import type { RejectionReason } from "../../src/message/types.js";

/** One hostile message: where it is published, its bytes, and what must become of it. */
export interface HostileCase {
  readonly name: string;
  readonly topic: string;
  readonly payload: Uint8Array;
  /** `false` when an MQTT broker refuses to route the topic (NUL, control characters, lone surrogates). */
  readonly overMqtt: boolean;
  readonly outcome: StoredOutcome | DeadLetterOutcome;
}

/** Stored as a message: the topic's segments and the payload's JSON value, unchanged. */
export interface StoredOutcome {
  readonly stored: true;
  readonly tenant: string;
  readonly site: string;
  readonly device: string;
  /** The JSON value the payload holds (the last of duplicate keys). */
  readonly value: unknown;
  readonly firmware?: string;
}

/** Recorded as a dead letter with this reason, the raw bytes and the topic. */
export interface DeadLetterOutcome {
  readonly stored: false;
  readonly reason: RejectionReason;
  /** The topic's device, when the topic matched and is storable. */
  readonly device: string | null;
  /** `dead_letters.topic` (the topic, with U+0000 and lone surrogates as `\uXXXX` escapes). */
  readonly storedTopic: string;
}

const SQL_INJECTION = "'; DROP TABLE messages; --";
const encoder = new TextEncoder();

function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

function concat(...parts: Array<string | number[]>): Uint8Array {
  return Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))));
}

/**
 * The hostile cases for topics under the literal first level `prefix` (pattern
 * `{prefix}/{tenant}/{site}/{device}/data`): SQL in every segment and in payloads, quotes,
 * backslashes, COPY's special sequences, control characters, NUL, lone surrogates, invalid UTF-8,
 * extreme numbers, duplicate keys, and ids at and beyond their column limits.
 */
export function hostileCases(prefix: string): HostileCase[] {
  const topicOf = (tenant: string, site: string, device: string) =>
    `${prefix}/${tenant}/${site}/${device}/data`;
  const cases: HostileCase[] = [];
  const store = (
    name: string,
    segments: { tenant: string; site: string; device: string },
    payload: Uint8Array,
    value: unknown,
    overMqtt = true,
    firmware?: string,
  ) => {
    const topic = topicOf(segments.tenant, segments.site, segments.device);
    cases.push({
      name,
      topic,
      payload,
      overMqtt,
      outcome: { stored: true, ...segments, value, ...(firmware === undefined ? {} : { firmware }) },
    });
  };
  const object = (
    name: string,
    segments: { tenant: string; site: string; device: string },
    value: Record<string, unknown>,
    overMqtt = true,
  ) =>
    store(name, segments, utf8(JSON.stringify({ case: name, ...value })), { case: name, ...value }, overMqtt);
  const refuse = (
    name: string,
    topic: string,
    payload: Uint8Array,
    reason: RejectionReason,
    device: string | null,
    overMqtt = true,
    storedTopic = topic,
  ) =>
    cases.push({ name, topic, payload, overMqtt, outcome: { stored: false, reason, device, storedTopic } });
  const plain = { tenant: "factory1", site: "line2" };

  object(
    "sql in the device",
    { ...plain, device: SQL_INJECTION },
    {
      deviceId: SQL_INJECTION,
      note: "'); DELETE FROM batches; --",
    },
  );
  object(
    "quotes and backslashes in every segment",
    { tenant: `O'Brien"s`, site: "back\\slash\\", device: `dev\\"'ice` },
    { deviceId: `dev\\"'ice`, q: `"'\\`, [`k"e'y\\`]: "v" },
  );
  object(
    "COPY's special sequences",
    { ...plain, site: "\\.", device: "\\N" },
    {
      a: "\\.",
      b: "\\N",
      c: "x\ny\r\n\\.\n",
      d: "\t|\\t",
    },
  );
  object(
    "spaces, $, % and & in segments",
    { tenant: " spaced ", site: "$SYS", device: "dev ice%20&amp;;" },
    {
      html: "<script>alert('x')</script>",
    },
  );
  const emoji100 = "😀".repeat(100);
  object(
    "a 100-character (200 code unit) device in a 255-character topic",
    { tenant: "t".repeat(100), site: "s".repeat(47 - prefix.length), device: emoji100 },
    { deviceId: emoji100 },
  );
  object(
    "control characters in segments",
    { tenant: "t\tab", site: "s\nl\rc", device: "d\u0001\u001b\u007f\u0085" },
    { ctl: "\u0001\u001f\u007f\u0085", "k\u0002ey": 1 },
    false,
  );
  const edgeText = `{"case":"numbers, escapes and duplicate keys","dup":1,"dup":2,"big":1e308,"neg0":-0,"float":12345678901234567890.5,"exp":1E+2,"tiny":5e-324,"max":9007199254740991,"min":-9007199254740991,"nested":{"a":[[[{"b":null}]]]},"esc":"\\u00e9\\ud83d\\ude00\\u2028\\/","nonchar":"\uFFFE\uFFFF"}`;
  store(
    "numbers, escapes and duplicate keys",
    { ...plain, device: "EDGE" },
    utf8(edgeText),
    JSON.parse(edgeText),
  );
  const bomText = `{"case":"byte order mark","bom":true}`;
  store(
    "byte order mark",
    { ...plain, device: "BOM" },
    concat([0xef, 0xbb, 0xbf], bomText),
    JSON.parse(bomText),
  );
  const firmware = `1.0'"\\;--`;
  store(
    "quotes in the firmware version",
    { ...plain, device: "FIRMWARE" },
    utf8(JSON.stringify({ case: "firmware", metadata: { firmware_version: firmware } })),
    { case: "firmware", metadata: { firmware_version: firmware } },
    true,
    firmware,
  );

  const note = (name: string) => utf8(JSON.stringify({ case: name }));
  refuse(
    "device over 100 characters",
    topicOf("factory1", "line2", "D".repeat(101)),
    note("d101"),
    "field_too_long",
    null,
  );
  refuse(
    "device over 100 emoji",
    topicOf("factory1", "line2", "😀".repeat(101)),
    note("e101"),
    "field_too_long",
    null,
  );
  refuse(
    "tenant over 100 characters",
    topicOf("T".repeat(101), "line2", "DEV"),
    note("t101"),
    "field_too_long",
    null,
  );
  refuse(
    "site over 100 characters",
    topicOf("factory1", "S".repeat(101), "DEV"),
    note("s101"),
    "field_too_long",
    null,
  );
  refuse(
    "topic over 255 characters",
    topicOf("t".repeat(100), "s".repeat(100), "d".repeat(50)),
    note("topic256"),
    "field_too_long",
    null,
  );
  refuse(
    "payload deviceId differs from the topic's",
    topicOf("factory1", "line2", "SENSOR_A"),
    utf8(JSON.stringify({ deviceId: "'; DROP TABLE devices; --" })),
    "device_mismatch",
    "SENSOR_A",
  );
  refuse(
    "payload deviceId is a number",
    topicOf("factory1", "line2", "SENSOR_B"),
    utf8(`{"deviceId":42}`),
    "device_mismatch",
    "SENSOR_B",
  );
  refuse(
    "NUL in the topic",
    topicOf("factory1", "line2", "a\u0000b"),
    note("nul topic"),
    "nul_character",
    null,
    false,
    topicOf("factory1", "line2", "a\\u0000b"),
  );
  refuse(
    "lone surrogate in the topic",
    topicOf("factory1", "line2", "a\ud800b"),
    note("lone topic"),
    "lone_surrogate",
    null,
    false,
    topicOf("factory1", "line2", "a\\ud800b"),
  );
  const device = topicOf("factory1", "line2", "HOSTILE");
  refuse("\\u0000 in a string", device, utf8(`{"s":"a\\u0000b"}`), "nul_character", "HOSTILE");
  refuse("\\u0000 in a key", device, utf8(`{"a\\u0000":1}`), "nul_character", "HOSTILE");
  refuse("raw NUL byte in a string", device, concat(`{"s":"a`, [0], `b"}`), "invalid_json", "HOSTILE");
  refuse("lone surrogate escape", device, utf8(`{"s":"\\udc00x"}`), "lone_surrogate", "HOSTILE");
  refuse("invalid UTF-8", device, concat(`{"s":"`, [0xff, 0xfe], `"}`), "invalid_utf8", "HOSTILE");
  refuse("overlong UTF-8", device, concat(`{"s":"`, [0xc0, 0xaf], `"}`), "invalid_utf8", "HOSTILE");
  refuse("encoded surrogate", device, concat(`{"s":"`, [0xed, 0xa0, 0x80], `"}`), "invalid_utf8", "HOSTILE");
  refuse("SQL as the payload", device, utf8(SQL_INJECTION), "invalid_json", "HOSTILE");
  refuse("integer beyond 2^53", device, utf8(`{"n":9007199254740993}`), "unsafe_integer", "HOSTILE");
  refuse("number beyond a double", device, utf8(`{"n":1e309}`), "invalid_json", "HOSTILE");
  refuse("negative number beyond a double", device, utf8(`{"n":-1E+400}`), "invalid_json", "HOSTILE");
  refuse("array payload", device, utf8(JSON.stringify([SQL_INJECTION])), "not_an_object", "HOSTILE");
  refuse("empty payload", device, new Uint8Array(0), "invalid_json", "HOSTILE");
  refuse(
    "firmware version over 50 characters",
    device,
    utf8(JSON.stringify({ metadata: { firmware_version: "'".repeat(51) } })),
    "field_too_long",
    "HOSTILE",
  );
  refuse("SQL as the topic", `${prefix}/${SQL_INJECTION}`, note("sql topic"), "topic_mismatch", null);
  // The same bytes on a topic that does not match, and from a device named after that topic.
  const same = utf8("same bytes, two origins");
  refuse("unmatched topic, same bytes as a device", prefix, same, "topic_mismatch", null);
  refuse(
    "device named topic:<topic>, same bytes",
    topicOf("factory1", "line2", `topic:${prefix}`),
    same,
    "invalid_json",
    `topic:${prefix}`,
  );
  return cases;
}

/** Ordinary readings published around the hostile ones: they must all be stored. */
export function neighbours(prefix: string, count: number): Array<{ topic: string; payload: Uint8Array }> {
  return Array.from({ length: count }, (_, i) => {
    const device = `NEIGHBOUR_${i % 4}`;
    return {
      topic: `${prefix}/factory1/line2/${device}/data`,
      payload: utf8(JSON.stringify({ deviceId: device, seq: i, kwh: i / 7 })),
    };
  });
}

/** `cases` and `around` interleaved: a hostile message after every few ordinary ones. */
export function interleave<T>(cases: readonly T[], around: readonly T[]): T[] {
  const out: T[] = [];
  const step = Math.max(1, Math.floor(around.length / (cases.length + 1)));
  let next = 0;
  for (let i = 0; i < around.length; i++) {
    out.push(around[i]!);
    if ((i + 1) % step === 0 && next < cases.length) out.push(cases[next++]!);
  }
  out.push(...cases.slice(next));
  return out;
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * Checks the database against the cases: every stored case once, with its topic, device, tenant,
 * site and JSON value as sent and its hash recomputed independently; every refused one as a dead
 * letter with its reason, device, topic and exact bytes; the neighbours all stored; the tables there.
 */
export async function expectHostileOutcome(
  url: string,
  cases: readonly HostileCase[],
  neighbourCount: number,
): Promise<void> {
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  try {
    const { rows: tables } = await sql.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY($1)",
      [["messages", "batches", "devices", "dead_letters"]],
    );
    expect(tables[0]!.n).toBe(4);
    const { rows: messages } = await sql.query<{
      topic: string;
      device_id: string;
      message_hash: string;
      raw: string;
    }>("SELECT topic, device_id, message_hash, raw_data::text AS raw FROM messages");
    const { rows: devices } = await sql.query<{
      device_id: string;
      tenant_id: string;
      site_id: string;
      firmware_version: string | null;
    }>("SELECT device_id, tenant_id, site_id, firmware_version FROM devices");
    const { rows: letters } = await sql.query<{
      topic: string;
      device_id: string | null;
      payload: Buffer;
      reason: string;
      detail: string;
    }>("SELECT topic, device_id, payload, reason, detail FROM dead_letters");

    const stored = cases.filter((c) => c.outcome.stored);
    expect(messages).toHaveLength(neighbourCount + stored.length);
    expect(messages.filter((m) => m.device_id.startsWith("NEIGHBOUR_"))).toHaveLength(neighbourCount);
    for (const c of stored) {
      const outcome = c.outcome as StoredOutcome;
      const rows = messages.filter((m) => m.topic === c.topic);
      expect(rows, c.name).toHaveLength(1);
      const row = rows[0]!;
      const canonical = canonicalize(outcome.value);
      expect(row.device_id, c.name).toBe(outcome.device);
      expect(canonicalize(JSON.parse(row.raw)), c.name).toBe(canonical);
      expect(row.message_hash, c.name).toBe(sha256(canonical));
      const device = devices.find((d) => d.device_id === outcome.device);
      expect(device, c.name).toMatchObject({ tenant_id: outcome.tenant, site_id: outcome.site });
      if (outcome.firmware !== undefined) expect(device?.firmware_version, c.name).toBe(outcome.firmware);
    }

    const refused = cases.filter((c) => !c.outcome.stored);
    expect(letters).toHaveLength(refused.length);
    for (const c of refused) {
      const outcome = c.outcome as DeadLetterOutcome;
      const matching = letters.filter(
        (l) => Buffer.from(c.payload).equals(l.payload) && l.topic === outcome.storedTopic,
      );
      expect(matching, c.name).toHaveLength(1);
      const letter = matching[0]!;
      expect({ reason: letter.reason, device: letter.device_id }, c.name).toEqual({
        reason: outcome.reason,
        device: outcome.device,
      });
      expect(letter.detail, c.name).not.toBe("");
    }
  } finally {
    await sql.end();
  }
}
