import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Batcher, type FlushPolicy } from "../../src/batching/index.js";
import { settle, TestClock } from "./support.js";

interface Item {
  readonly id: number;
  readonly size: number;
}

type Command =
  | { readonly kind: "add"; readonly size: number }
  | { readonly kind: "flush" }
  | { readonly kind: "advance"; readonly ms: number }
  | { readonly kind: "resolve" }
  | { readonly kind: "reject" };

const policyArb = fc
  .record({
    maxItems: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
    maxBytes: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }),
    maxAgeMs: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
    every: fc.option(fc.integer({ min: 2, max: 6 }), { nil: undefined }),
    extraCapacity: fc.integer({ min: 0, max: 12 }),
  })
  .map(({ every, extraCapacity, ...limits }) => {
    const policy: FlushPolicy<Item> = {
      ...limits,
      ...(every === undefined ? {} : { shouldFlush: (s) => s.lastItem.id % every === 0 }),
    };
    const noTrigger = Object.values(policy).every((v) => v === undefined);
    const withTrigger: FlushPolicy<Item> = noTrigger ? { ...policy, maxItems: 4 } : policy;
    return { policy: withTrigger, capacity: (withTrigger.maxItems ?? 1) + extraCapacity };
  });

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 15 }).map((size) => ({ kind: "add" as const, size })) },
  { weight: 1, arbitrary: fc.constant({ kind: "flush" as const }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 60 }).map((ms) => ({ kind: "advance" as const, ms })) },
  { weight: 3, arbitrary: fc.constant({ kind: "resolve" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "reject" as const }) },
);

interface Pending {
  readonly items: Item[];
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

describe("Batcher (property)", () => {
  it("hands over every accepted item exactly once, in order, one flush at a time, within the limits", async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        fc.array(commandArb, { maxLength: 80 }),
        async ({ policy, capacity }, commands) => {
          const clock = new TestClock();
          const accepted: Item[] = [];
          const delivered: Item[][] = [];
          const handedOver: { items: Item[]; failed: boolean }[] = [];
          const queue: Pending[] = [];
          let autoResolve = false;
          let active = 0;
          let maxActive = 0;
          const batcher = new Batcher<Item>({
            policy,
            capacity,
            clock,
            sizeOf: (item) => item.size,
            onError: () => {},
            onFlush: (items) =>
              new Promise<void>((resolve, reject) => {
                active++;
                maxActive = Math.max(maxActive, active);
                const record = { items, failed: false };
                handedOver.push(record);
                const pending: Pending = {
                  items,
                  resolve: () => {
                    active--;
                    delivered.push(items);
                    resolve();
                  },
                  reject: (e) => {
                    active--;
                    record.failed = true;
                    reject(e);
                  },
                };
                if (autoResolve) pending.resolve();
                else queue.push(pending);
              }),
          });
          let nextId = 1;
          for (const command of commands) {
            if (command.kind === "add") {
              const item = { id: nextId++, size: command.size };
              if (batcher.add(item)) accepted.push(item);
            } else if (command.kind === "flush") {
              batcher.flush().catch(() => {});
            } else if (command.kind === "advance") {
              clock.advance(command.ms);
            } else {
              const head = queue.shift();
              if (command.kind === "resolve") head?.resolve();
              else head?.reject(new Error("injected"));
            }
            await settle();
            expect(batcher.size).toBeLessThanOrEqual(capacity);
          }
          autoResolve = true;
          for (const pending of queue.splice(0)) pending.resolve();
          await settle();
          await batcher.close();

          expect(delivered.flat()).toEqual(accepted);
          expect(maxActive).toBeLessThanOrEqual(1);
          expect(batcher.size).toBe(0);
          expect(batcher.bytes).toBe(0);
          for (const batch of delivered) {
            expect(batch.length).toBeGreaterThan(0);
            if (policy.maxItems !== undefined) expect(batch.length).toBeLessThanOrEqual(policy.maxItems);
            const bytes = batch.reduce((sum, item) => sum + item.size, 0);
            if (policy.maxBytes !== undefined && batch.length > 1)
              expect(bytes).toBeLessThanOrEqual(policy.maxBytes);
          }
          handedOver.forEach((call, i) => {
            if (call.failed) expect(handedOver[i + 1]?.items).toEqual(call.items);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
