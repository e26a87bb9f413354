import { createHash } from "node:crypto";
import { type DeviceKeyPair, deviceKeyPair, signPayload } from "../../src/signing/device-signature.js";
import { seedPayload } from "../../src/testing/fixtures.js";

/** Kinds of bad payload mixed into the stream; each must end as a dead letter, never as a reading. */
export const BAD_KINDS = [
  "json-array",
  "bare-number",
  "not-json",
  "nul-character",
  "unsafe-integer",
  "device-mismatch",
  "invalid-utf8",
  "empty",
  "lone-surrogate",
] as const;
export type BadKind = (typeof BAD_KINDS)[number];

/** One message to publish. */
export interface BenchMessage {
  readonly topic: string;
  readonly payload: Buffer;
  /** Set when the payload is one the bridge must refuse. */
  readonly bad: BadKind | undefined;
}

/** Every `BAD_EVERY`-th message is bad: 0.2 %. */
export const BAD_EVERY = 500;
const DEVICES = Array.from({ length: 10 }, (_, i) => `SENSOR_${String(i + 1).padStart(3, "0")}`);
const TENANT = "factory1";
const SITE = "line2";

function badPayload(kind: BadKind, device: string, n: number): Buffer {
  const head = `{"deviceId":"${device}","timestamp":${1_696_156_800 + n},"n":${n}`;
  switch (kind) {
    case "json-array":
      return Buffer.from(`[${n},15.7,220.1]`);
    case "bare-number":
      return Buffer.from(String(n));
    case "not-json":
      return Buffer.from(`kwh=15.7 n=${n}`);
    case "nul-character":
      return Buffer.from(`${head},"note":"a\\u0000b"}`);
    case "unsafe-integer":
      return Buffer.from(`${head},"counter":9007199254740993}`);
    case "device-mismatch": {
      const other = DEVICES[(DEVICES.indexOf(device) + 1) % DEVICES.length]!;
      return Buffer.from(JSON.stringify(seedPayload(other, n)));
    }
    case "invalid-utf8":
      return Buffer.concat([Buffer.from(`${head},"note":"`), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    case "empty":
      return Buffer.alloc(0);
    case "lone-surrogate":
      return Buffer.from(`${head},"note":"\\ud800"}`);
  }
}

/**
 * A deterministic stream of `total` messages over 10 devices; `salt` keeps runs' hashes apart.
 * `signed`: every valid reading is signed with its device's Ed25519 key (docs/hashing.md §6), the
 * keys derived from the salt; {@link Workload.deviceKeys} gives what to register.
 */
export class Workload {
  readonly total: number;
  readonly salt: string;
  readonly signed: boolean;
  readonly #keys = new Map<string, DeviceKeyPair>();

  constructor(total: number, salt: string, options: { readonly signed?: boolean } = {}) {
    this.total = total;
    this.salt = salt;
    this.signed = options.signed === true;
    if (this.signed) {
      for (const device of DEVICES) {
        const seed = createHash("sha256").update(`veep-bench-key:${salt}:${device}`).digest();
        this.#keys.set(device, deviceKeyPair(seed));
      }
    }
  }

  /** The devices' public keys (base58) of a signed workload, to register before the bridge starts. */
  deviceKeys(): Array<{ deviceId: string; tenantId: string; siteId: string; publicKey: string }> {
    return [...this.#keys].map(([deviceId, keys]) => ({
      deviceId,
      tenantId: TENANT,
      siteId: SITE,
      publicKey: keys.publicKey,
    }));
  }

  /** Message number `i` (0-based), built on demand so a million need no memory. */
  message(i: number): BenchMessage {
    const bad = this.badKind(i);
    // Bad messages rotate over the devices too (their indices would otherwise all hit one device).
    const d = bad ? Math.floor(i / BAD_EVERY) : i;
    const device = DEVICES[d % DEVICES.length]!;
    const topic = `veep/${TENANT}/${SITE}/${device}/data`;
    const keys = this.#keys.get(device);
    const reading = seedPayload(device, i, this.salt);
    const payload = bad
      ? badPayload(bad, device, i)
      : Buffer.from(JSON.stringify(keys ? signPayload(reading, keys.privateKey) : reading));
    return { topic, payload, bad };
  }

  /** Number of bad messages. */
  get bad(): number {
    return Math.floor(this.total / BAD_EVERY);
  }

  /** Number of valid readings: what must end up in `messages`. */
  get valid(): number {
    return this.total - this.bad;
  }

  /** Distinct (topic, payload) pairs among the bad messages (empty payloads repeat per topic). */
  distinctBad(): number {
    const seen = new Set<string>();
    for (let i = BAD_EVERY - 1; i < this.total; i += BAD_EVERY) {
      const { topic, payload } = this.message(i);
      seen.add(`${topic} ${payload.toString("hex")}`);
    }
    return seen.size;
  }

  private badKind(i: number): BadKind | undefined {
    if (i % BAD_EVERY !== BAD_EVERY - 1) return undefined;
    return BAD_KINDS[Math.floor(i / BAD_EVERY) % BAD_KINDS.length];
  }
}
