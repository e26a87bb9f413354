import { describe, expect, it } from "vitest";
import { Batcher, type FlushPolicy, validateFlushPolicy } from "../../src/batching/index.js";
import { InvalidOptionError } from "../../src/errors.js";

function optionOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return (error as InvalidOptionError).option;
  }
  return undefined;
}

describe("validateFlushPolicy", () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "10"])(
    "rejects maxItems = %s naming the option",
    (value) => {
      const policy = { maxItems: value } as unknown as FlushPolicy;
      expect(optionOf(() => validateFlushPolicy(policy))).toBe("policy.maxItems");
    },
  );

  it("names the option with the caller's prefix and names", () => {
    expect(optionOf(() => validateFlushPolicy({ maxItems: 0 }, "batch", { maxItems: "maxMessages" }))).toBe(
      "batch.maxMessages",
    );
    expect(() => validateFlushPolicy({ maxItems: 0 }, "batch", { maxItems: "maxMessages" })).toThrow(
      "Invalid option `batch.maxMessages`: must be a positive integer, got 0",
    );
    expect(optionOf(() => validateFlushPolicy({ maxBytes: -5 }, "writeBuffer"))).toBe("writeBuffer.maxBytes");
  });

  it("rejects maxAgeMs beyond what a timer can wait, and non-finite", () => {
    expect(optionOf(() => validateFlushPolicy({ maxAgeMs: 2 ** 31 }))).toBe("policy.maxAgeMs");
    expect(optionOf(() => validateFlushPolicy({ maxAgeMs: Number.POSITIVE_INFINITY }))).toBe(
      "policy.maxAgeMs",
    );
    expect(() => validateFlushPolicy({ maxAgeMs: 300_000 })).not.toThrow();
  });

  it("rejects a shouldFlush that is not a function", () => {
    const policy = { shouldFlush: true } as unknown as FlushPolicy;
    expect(optionOf(() => validateFlushPolicy(policy))).toBe("policy.shouldFlush");
  });

  it("rejects a policy with no trigger at all, naming the policy", () => {
    expect(optionOf(() => validateFlushPolicy({}, "batch"))).toBe("batch");
    expect(() => validateFlushPolicy({}, "batch", { maxItems: "maxMessages" })).toThrow(/maxMessages/);
  });

  it("accepts any single trigger", () => {
    for (const policy of [{ maxItems: 1 }, { maxBytes: 1 }, { maxAgeMs: 1 }, { shouldFlush: () => false }]) {
      expect(() => validateFlushPolicy(policy)).not.toThrow();
    }
  });
});

describe("Batcher options", () => {
  const onFlush = async (): Promise<void> => {};

  it("validates its policy", () => {
    expect(optionOf(() => new Batcher({ policy: { maxItems: 0 }, capacity: 1, onFlush }))).toBe(
      "policy.maxItems",
    );
  });

  it("rejects a capacity that is not a positive integer or is below maxItems", () => {
    expect(optionOf(() => new Batcher({ policy: { maxItems: 1 }, capacity: 0, onFlush }))).toBe("capacity");
    expect(optionOf(() => new Batcher({ policy: { maxItems: 20 }, capacity: 10, onFlush }))).toBe("capacity");
  });

  it("requires sizeOf with maxBytes and checks what it returns", () => {
    expect(optionOf(() => new Batcher({ policy: { maxBytes: 10 }, capacity: 10, onFlush }))).toBe("sizeOf");
    const batcher = new Batcher<string>({
      policy: { maxBytes: 10 },
      capacity: 10,
      sizeOf: () => -1,
      onFlush,
    });
    expect(optionOf(() => batcher.add("x"))).toBe("sizeOf");
    expect(batcher.size).toBe(0);
  });
});
