import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/batching/clock.js";
import { SignatureGate } from "../../src/bridge/signatures.js";
import { deviceKeyPair, signPayload } from "../../src/device-signing.js";
import type { SignatureOptions } from "../../src/index.js";
import { type Bridge, createBridge, InvalidOptionError, type JsonObject } from "../../src/index.js";
import { type MemorySource, type MemoryStore, memorySource, memoryStore } from "../../src/memory.js";
import { createDecoder } from "../../src/message/index.js";

const ALICE = deviceKeyPair(new Uint8Array(32).fill(21));
const ALICE_NEW = deviceKeyPair(new Uint8Array(32).fill(22));
const MALLORY = deviceKeyPair(new Uint8Array(32).fill(23));

const topic = (device: string) => `veep/factory1/line2/${device}/data`;
const reading = (device: string, n: number): JsonObject => ({ deviceId: device, n, kwh: 1.5 });

interface Harness {
  readonly bridge: Bridge;
  readonly source: MemorySource;
  readonly store: MemoryStore;
  readonly keys: Map<string, string>;
  readonly loads: number;
  publish(device: string, payload: JsonObject | string): void;
  settle(): Promise<void>;
  stored(): Array<{ n: unknown; device: string; valid: boolean | undefined; key: string | undefined }>;
  deadLetters(): Array<{ reason: string; n: unknown; device: string | undefined }>;
}

/**
 * A bridge on memory adapters whose keys come from `keys` (counted in `loads`). `signatures` adds to
 * the option (`false`: off); `withKeys: false` gives no `keys` option at all.
 */
async function harness(
  signatures: Omit<SignatureOptions, "keys"> | false = {},
  withKeys = true,
): Promise<Harness> {
  const source = memorySource();
  const store = memoryStore();
  const keys = new Map<string, string>([["ALICE", ALICE.publicKey]]);
  const counter = { loads: 0 };
  const signatureOption: SignatureOptions | false | undefined =
    signatures === false
      ? false
      : withKeys
        ? {
            ...signatures,
            keys: async () => {
              counter.loads += 1;
              return new Map(keys);
            },
          }
        : undefined;
  const h: Harness = {
    source,
    store,
    keys,
    get loads() {
      return counter.loads;
    },
    bridge: createBridge({
      source,
      store,
      ...(signatureOption !== undefined ? { signatures: signatureOption } : {}),
    }),
    publish: (device, payload) =>
      source.publish(topic(device), typeof payload === "string" ? payload : JSON.stringify(payload)),
    async settle() {
      await source.whenAllAcknowledged();
    },
    stored: () =>
      [...store.data.messages.values()]
        .sort((a, b) => Number(a.reading.payload["n"]) - Number(b.reading.payload["n"]))
        .map(({ reading: r }) => ({
          n: r.payload["n"],
          device: r.deviceId,
          valid: r.signatureCheck?.valid,
          key: r.signatureCheck?.publicKey,
        })),
    deadLetters: () =>
      store.data.deadLetters.map((d) => ({
        reason: d.reason,
        n: (JSON.parse(new TextDecoder().decode(d.payload)) as JsonObject)["n"],
        device: d.deviceId,
      })),
  };
  await h.bridge.start();
  return h;
}

describe("device signatures at ingest", () => {
  it("by default accepts a valid signature, rejects a missing, forged or malformed one, and takes keyless devices unsigned", async () => {
    const h = await harness();
    const rejected: string[] = [];
    h.bridge.on("rejected", (r) => rejected.push(`${r.reason}: ${r.detail}`));
    h.publish("ALICE", signPayload(reading("ALICE", 1), ALICE.privateKey));
    h.publish("ALICE", reading("ALICE", 2));
    h.publish("ALICE", signPayload(reading("ALICE", 3), MALLORY.privateKey));
    const forged = { ...signPayload(reading("ALICE", 4), ALICE.privateKey), kwh: 999.99 };
    h.publish("ALICE", forged);
    h.publish("ALICE", { ...reading("ALICE", 5), signature: "not base58!" });
    h.publish("BOB", reading("BOB", 6));
    h.publish("BOB", signPayload(reading("BOB", 7), MALLORY.privateKey));
    await h.settle();
    await h.bridge.stop();
    expect(h.stored()).toEqual([
      { n: 1, device: "ALICE", valid: true, key: ALICE.publicKey },
      { n: 6, device: "BOB", valid: undefined, key: undefined },
      { n: 7, device: "BOB", valid: undefined, key: undefined },
    ]);
    expect(h.deadLetters()).toEqual([
      { reason: "missing_signature", n: 2, device: "ALICE" },
      { reason: "bad_signature", n: 3, device: "ALICE" },
      { reason: "bad_signature", n: 4, device: "ALICE" },
      { reason: "bad_signature", n: 5, device: "ALICE" },
    ]);
    expect(rejected[0]).toMatch(/device "ALICE" has a registered key and the reading has no signature/);
    expect(rejected[1]).toContain(`does not verify with the key of device "ALICE" (${ALICE.publicKey})`);
    expect(rejected[3]).toMatch(/not a string of base58 of 64 bytes/);
    // The keyless device's signature is kept (not checked): it travels in the payload and the hash.
    const bob7 = [...h.store.data.messages.values()].find((m) => m.reading.payload["n"] === 7)!;
    expect(bob7.reading.deviceSignature).toMatch(/^[1-9A-HJ-NP-Za-km-z]{64,88}$/);
    expect(h.bridge.stats()).toMatchObject({ stored: 3, rejected: 4 });
  });

  it('with onInvalid: "store", stores unsigned and badly signed readings with valid = false', async () => {
    const store = await harness({ onInvalid: "store" });
    store.publish("ALICE", signPayload(reading("ALICE", 1), ALICE.privateKey));
    store.publish("ALICE", reading("ALICE", 2));
    store.publish("ALICE", signPayload(reading("ALICE", 3), MALLORY.privateKey));
    await store.settle();
    await store.bridge.stop();
    expect(store.stored()).toEqual([
      { n: 1, device: "ALICE", valid: true, key: ALICE.publicKey },
      { n: 2, device: "ALICE", valid: false, key: ALICE.publicKey },
      { n: 3, device: "ALICE", valid: false, key: ALICE.publicKey },
    ]);
    expect(store.deadLetters()).toEqual([]);
  });

  it("loads the keys once at start, not per message, and again only after refreshMs", async () => {
    const h = await harness({});
    for (let n = 0; n < 500; n++) h.publish("ALICE", signPayload(reading("ALICE", n), ALICE.privateKey));
    await h.settle();
    expect(h.loads).toBe(1);
    expect(h.stored()).toHaveLength(500);
    await h.bridge.stop();

    const quick = await harness({ refreshMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 120));
    quick.publish("ALICE", signPayload(reading("ALICE", 1), ALICE.privateKey));
    await quick.settle();
    await quick.bridge.stop();
    expect(quick.loads).toBe(2);
  });

  it("applies a rotated key to the next reading: a failed check reloads the keys (at most once a second)", async () => {
    const h = await harness();
    h.publish("ALICE", signPayload(reading("ALICE", 1), ALICE.privateKey));
    await h.settle();
    h.keys.set("ALICE", ALICE_NEW.publicKey);
    h.keys.set("CAROL", MALLORY.publicKey);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // In one commit: a reading signed with the new key, then one with the old key, which no longer
    // counts although it was checked (and passed) before the reload; and a device that got a key must sign.
    h.publish("ALICE", signPayload(reading("ALICE", 2), ALICE_NEW.privateKey));
    h.publish("ALICE", signPayload(reading("ALICE", 3), ALICE.privateKey));
    h.publish("CAROL", reading("CAROL", 4));
    await h.settle();
    await h.bridge.stop();
    expect(h.stored()).toEqual([
      { n: 1, device: "ALICE", valid: true, key: ALICE.publicKey },
      { n: 2, device: "ALICE", valid: true, key: ALICE_NEW.publicKey },
    ]);
    expect(h.deadLetters()).toEqual([
      { reason: "bad_signature", n: 3, device: "ALICE" },
      { reason: "missing_signature", n: 4, device: "CAROL" },
    ]);
    expect(h.loads).toBe(2);
  });

  it("checks nothing with signatures: false, or with a store that has no keys and no keys option", async () => {
    for (const h of [await harness(false), await harness({}, false)]) {
      h.publish("ALICE", reading("ALICE", 1));
      h.publish("ALICE", signPayload(reading("ALICE", 2), MALLORY.privateKey));
      await h.settle();
      await h.bridge.stop();
      expect(h.stored().map((s) => s.valid)).toEqual([undefined, undefined]);
      expect(h.deadLetters()).toEqual([]);
      expect(h.loads).toBe(0);
    }
  });

  it("fails to start when the keys cannot be loaded, and validates its options", async () => {
    const source = memorySource();
    const bridge = createBridge({
      source,
      store: memoryStore(),
      signatures: { keys: () => Promise.reject(new Error("no keys today")) },
    });
    await expect(bridge.start()).rejects.toThrow(/no keys today/);
    const base = { source: memorySource(), store: memoryStore() };
    expect(() => createBridge({ ...base, signatures: { onInvalid: "drop" as "store" } })).toThrow(
      InvalidOptionError,
    );
    expect(() => createBridge({ ...base, signatures: { refreshMs: 0 } })).toThrow(/signatures\.refreshMs/);
    expect(() => createBridge({ ...base, signatures: { keys: "x" as never } })).toThrow(/signatures\.keys/);
  });
});

describe("SignatureGate: checks begun on arrival", () => {
  const decoder = createDecoder();
  const decoded = (payload: JsonObject) => {
    const result = decoder.decode({
      topic: topic("ALICE"),
      payload: new TextEncoder().encode(JSON.stringify(payload)),
      receivedAt: new Date(),
    });
    if (!result.ok) throw new Error(result.rejection.detail);
    return result.reading;
  };

  it("uses a check begun on arrival, and does it again when the device's key changed before the commit", async () => {
    const keys = new Map([["ALICE", ALICE.publicKey]]);
    const gate = new SignatureGate(
      { keys: async () => new Map(keys), onInvalid: "reject", refreshMs: 60_000 },
      systemClock,
    );
    await gate.load();
    const old = decoded(signPayload(reading("ALICE", 1), ALICE.privateKey));
    const fresh = decoded(signPayload(reading("ALICE", 2), ALICE_NEW.privateKey));
    const begun = [gate.begin(old), gate.begin(fresh)];
    const kept = await gate.check([old, fresh], begun);
    expect(kept.readings.map((r) => r.payload["n"])).toEqual([1]);
    expect(gate.checked).toBe(2); // the failure was not checked again: the keys were loaded just now
    keys.set("ALICE", ALICE_NEW.publicKey);
    await gate.load(); // a periodic refresh between arrival and commit
    const again = await gate.check([old, fresh], [gate.begin(old), undefined]);
    expect(again.readings.map((r) => [r.payload["n"], r.signatureCheck?.publicKey])).toEqual([
      [2, ALICE_NEW.publicKey],
    ]);
    expect(again.rejections.map((r) => r.reason)).toEqual(["bad_signature"]);
    const stale = [gate.begin(old), gate.begin(fresh)];
    keys.set("ALICE", ALICE.publicKey);
    await gate.load();
    const rechecked = await gate.check([old, fresh], stale);
    expect(rechecked.readings.map((r) => [r.payload["n"], r.signatureCheck?.publicKey])).toEqual([
      [1, ALICE.publicKey],
    ]);
  });
});

describe("SignatureGate: a check that fails in itself", () => {
  it("refuses that reading as bad_signature with the error, and still decides the others of the commit", async () => {
    const gate = new SignatureGate(
      { keys: async () => new Map([["ALICE", ALICE.publicKey]]), onInvalid: "reject", refreshMs: 60_000 },
      systemClock,
    );
    await gate.load();
    const decoder = createDecoder();
    const decode = (payload: JsonObject) => {
      const result = decoder.decode({
        topic: topic("ALICE"),
        payload: Buffer.from(JSON.stringify(payload)),
        receivedAt: new Date(),
      });
      if (!result.ok) throw new Error(result.rejection.detail);
      return result.reading;
    };
    const broken = decode(signPayload(reading("ALICE", 1), ALICE.privateKey));
    const good = decode(signPayload(reading("ALICE", 2), ALICE.privateKey));
    const failing = Promise.reject(new Error("thread pool gone"));
    const checked = await gate.check([broken, good], [failing, gate.begin(good)]);
    expect(checked.readings.map((r) => r.payload["n"])).toEqual([2]);
    expect(checked.rejections.map((r) => [r.reason, r.detail])).toEqual([
      ["bad_signature", 'the signature could not be checked: "thread pool gone"'],
    ]);
  });
});

describe("the default key source: the store's loadDeviceKeys", () => {
  it("checks against the keys registered in a memory store, with no signatures option", async () => {
    const source = memorySource();
    const store = memoryStore();
    expect(await store.setDeviceKey("ALICE", ALICE.publicKey)).toBeNull();
    await expect(store.setDeviceKey("ALICE", "nope")).rejects.toBeInstanceOf(InvalidOptionError);
    const bridge = createBridge({ source, store });
    await bridge.start();
    source.publish(topic("ALICE"), JSON.stringify(signPayload(reading("ALICE", 1), ALICE.privateKey)));
    source.publish(topic("ALICE"), JSON.stringify(reading("ALICE", 2)));
    source.publish(topic("BOB"), JSON.stringify(reading("BOB", 3)));
    await source.whenAllAcknowledged();
    await bridge.stop();
    const stored = [...store.data.messages.values()].map((m) => [
      m.reading.payload["n"],
      m.reading.signatureCheck?.valid,
    ]);
    expect(stored).toEqual([
      [1, true],
      [3, undefined],
    ]);
    expect(store.data.deadLetters.map((d) => d.reason)).toEqual(["missing_signature"]);
    // The keys are part of the data: a new instance over it (a restart) has them.
    const again = memoryStore({ data: store.data });
    expect(await again.setDeviceKey("ALICE", null)).toBe(ALICE.publicKey);
    expect((await again.loadDeviceKeys()).size).toBe(0);
  });
});
