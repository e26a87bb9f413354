import { describe, expect, it } from "vitest";
import { guardStore, type Store } from "../../src/adapter.js";
import { type MemoryStore, memoryStore } from "../../src/memory.js";

/** A third-party store written as a class: private state, members of its own, sync and async. */
class JournalStore implements Store {
  readonly name = "journal";
  readonly #inner: MemoryStore = memoryStore();
  #opens = 0;
  #closes = 0;
  open = async (): Promise<void> => {
    this.#opens++;
    await this.#inner.open();
  };
  async close(): Promise<void> {
    this.#closes++;
    await this.#inner.close();
  }
  loadOpenBatch: Store["loadOpenBatch"] = () => this.#inner.loadOpenBatch();
  append: Store["append"] = (request) => this.#inner.append(request);
  sealBatch: Store["sealBatch"] = (request) => this.#inner.sealBatch(request);
  failBatch: Store["failBatch"] = (id, reason) => this.#inner.failBatch(id, reason);
  getBatch: Store["getBatch"] = (id) => this.#inner.getBatch(id);
  counts(): { opens: number; closes: number } {
    return { opens: this.#opens, closes: this.#closes };
  }
  async compact(): Promise<number> {
    return this.#opens;
  }
  async *entries(): AsyncGenerator<string> {
    yield "first";
  }
}

describe("guardStore", () => {
  it("keeps a class store's identity, private fields and own members", async () => {
    const store = guardStore(new JournalStore());
    expect(store).toBeInstanceOf(JournalStore);
    expect(guardStore(store)).toBe(store);
    await Promise.all([store.open(), store.open()]);
    expect(store.counts()).toEqual({ opens: 1, closes: 0 });
    expect(await store.compact()).toBe(1);
    const seen: string[] = [];
    for await (const entry of store.entries()) seen.push(entry);
    expect(seen).toEqual(["first"]);
  });

  it("after close, rejects every async member (contract or its own), throws for sync ones, closes once", async () => {
    const store = guardStore(new JournalStore());
    await store.open();
    const disposable = store as unknown as { [Symbol.asyncDispose](): Promise<void> };
    await Promise.all([store.close(), disposable[Symbol.asyncDispose]()]);
    await store.close();
    expect(store.counts).toThrow(expect.objectContaining({ code: "STOPPED" }));
    const stopped = { code: "STOPPED", name: "LifecycleError" };
    await expect(store.getBatch("x")).rejects.toMatchObject(stopped);
    await expect(store.loadOpenBatch()).rejects.toMatchObject(stopped);
    await expect(store.compact()).rejects.toMatchObject(stopped);
    await expect(store.entries().next()).rejects.toMatchObject(stopped);
    await expect(store.open()).rejects.toMatchObject(stopped);
    await expect(store.compact()).rejects.toThrow("the journal store is closed: compact() after close()");
  });

  it("shares one close with an open in progress, which runs first", async () => {
    const order: string[] = [];
    const inner = memoryStore();
    const store = guardStore<Store>({
      ...inner,
      name: "slow",
      async open() {
        await new Promise((resolve) => setTimeout(resolve, 20));
        order.push("opened");
      },
      async close() {
        order.push("closed");
      },
    });
    const opening = store.open();
    await store.close();
    await opening;
    expect(order).toEqual(["opened", "closed"]);
  });
});
