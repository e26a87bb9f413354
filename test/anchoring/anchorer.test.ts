import { describe, expect, it } from "vitest";
import {
  type AnchorEvent,
  type AnchorStatus,
  anchorBatches,
  anchorMemo,
  memoryAnchor,
} from "../../src/anchoring/index.js";
import { sealedBatches } from "./sealed-batches.js";

const noWait = { retry: { initialDelayMs: 0, maxDelayMs: 0 } };

describe("anchorBatches over the memory store", () => {
  it("takes each sealed batch complete → blockchain_pending → blockchain_confirmed with one transaction", async () => {
    const { store, batches } = await sealedBatches(3);
    const anchor = memoryAnchor({ autoConfirm: false });
    const events: AnchorEvent[] = [];
    const anchorer = anchorBatches(store, { anchor, onEvent: (e) => events.push(e) });
    const first = await anchorer.runOnce();
    expect(first).toMatchObject({ claimed: 3, sent: 3, confirmed: 0 });
    for (const batch of batches) {
      expect((await store.getBatch(batch.batchId))?.status).toBe("blockchain_pending");
      const anchored = await store.getAnchor(batch.batchId);
      expect(anchored?.memo).toBe(
        anchorMemo({ batchId: batch.batchId, messageCount: 3, root: batch.batchHash }),
      );
    }
    expect((await anchorer.runOnce()).inFlight).toBe(3);
    anchor.advance();
    expect(await anchorer.runOnce()).toMatchObject({ confirmed: 3, sent: 0 });
    for (const batch of batches) {
      const stored = await store.getAnchor(batch.batchId);
      expect(stored?.status).toBe("blockchain_confirmed");
      expect(stored?.slot).toBe(1);
      expect(anchor.transactions.get(stored!.signature)?.memo).toBe(stored?.memo);
    }
    expect(anchor.sent).toHaveLength(3);
    expect(events.filter((e) => e.type === "confirmed")).toHaveLength(3);
    expect(await anchorer.runOnce()).toMatchObject({ claimed: 0 });
  });

  it("a definite send failure: failed with the reason, retried after its backoff, every attempt recorded", async () => {
    const { store, batches } = await sealedBatches(1);
    const batchId = batches[0]!.batchId;
    const anchor = memoryAnchor();
    anchor.failNextSend(1, { message: "fee payer has no lamports: fund it" });
    const anchorer = anchorBatches(store, { anchor, retry: { initialDelayMs: 60_000 } });
    expect((await anchorer.runOnce()).failed).toBe(1);
    expect((await store.getBatch(batchId))?.status).toBe("failed");
    expect(store.data.batches.get(batchId)?.failureReason).toMatch(/fee payer has no lamports/);
    expect(await anchorer.runOnce()).toMatchObject({ claimed: 0 });
    const retryAt = store.data.batches.get(batchId)?.anchor?.retryAt;
    expect(retryAt!.getTime()).toBeGreaterThan(Date.now() + 50_000);

    const soon = anchorBatches(store, { anchor, ...noWait });
    store.data.batches.set(batchId, {
      ...store.data.batches.get(batchId)!,
      anchor: { ...store.data.batches.get(batchId)!.anchor!, retryAt: new Date(0) },
    });
    expect(await soon.runOnce()).toMatchObject({ sent: 1 });
    expect(await soon.runOnce()).toMatchObject({ confirmed: 1 });
    const attempts = await store.listAnchorAttempts(batchId);
    expect(attempts.map((a) => a.status)).toEqual(["failed", "confirmed"]);
    expect(anchor.transactions.size).toBe(1);
  });

  it("a send whose reply is lost but which landed is confirmed, not sent again", async () => {
    const { store, batches } = await sealedBatches(1);
    const anchor = memoryAnchor();
    anchor.failNextSend(1, { definite: false, message: "socket hang up" });
    const anchorer = anchorBatches(store, { anchor, ...noWait });
    expect((await anchorer.runOnce()).failed).toBe(1);
    expect((await store.getBatch(batches[0]!.batchId))?.status).toBe("failed");
    expect(await anchorer.runOnce()).toMatchObject({ confirmed: 1, sent: 0 });
    expect(anchor.sent).toHaveLength(1);
    expect((await store.getBatch(batches[0]!.batchId))?.status).toBe("blockchain_confirmed");
  });

  it("an expired blockhash (the transaction was lost) is re-sent as a new transaction", async () => {
    const { store, batches } = await sealedBatches(1);
    const batchId = batches[0]!.batchId;
    const anchor = memoryAnchor();
    anchor.dropNextSend(1);
    const events: AnchorEvent[] = [];
    const anchorer = anchorBatches(store, { anchor, ...noWait, onEvent: (e) => events.push(e) });
    await anchorer.runOnce();
    expect(await anchorer.runOnce()).toMatchObject({ inFlight: 1, sent: 0 });
    anchor.expireAll();
    expect(await anchorer.runOnce()).toMatchObject({ sent: 1 });
    expect(await anchorer.runOnce()).toMatchObject({ confirmed: 1 });
    const attempts = await store.listAnchorAttempts(batchId);
    expect(attempts.map((a) => a.status)).toEqual(["expired", "confirmed"]);
    expect(events.map((e) => e.type)).toEqual(["sent", "expired", "sent", "confirmed"]);
    expect((await store.getAnchor(batchId))?.signature).toBe(attempts[1]!.signature);
  });

  it("a confirmation timeout fails the batch with the reason but sends nothing new while the transaction can still land", async () => {
    const { store, batches } = await sealedBatches(1);
    const batchId = batches[0]!.batchId;
    let hold = true;
    const anchor = memoryAnchor({
      checkStatus: (_attempt, actual): AnchorStatus => (hold ? { state: "pending" } : actual),
    });
    const anchorer = anchorBatches(store, { anchor, confirmTimeoutMs: 0, ...noWait });
    await anchorer.runOnce();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await anchorer.runOnce()).failed).toBe(1);
    expect((await store.getBatch(batchId))?.status).toBe("failed");
    expect(store.data.batches.get(batchId)?.failureReason).toMatch(/not confirmed within 0 ms/);
    expect(await anchorer.runOnce()).toMatchObject({ inFlight: 1, sent: 0 });
    expect(anchor.sent).toHaveLength(1);
    hold = false;
    expect(await anchorer.runOnce()).toMatchObject({ confirmed: 1 });
    expect((await store.getBatch(batchId))?.status).toBe("blockchain_confirmed");
  });

  it("a crash between record and send: the recorded signature expires and the batch is anchored once", async () => {
    const { store, batches } = await sealedBatches(1);
    const batchId = batches[0]!.batchId;
    const anchor = memoryAnchor();
    const memo = anchorMemo({ batchId, messageCount: 3, root: batches[0]!.batchHash });
    const prepared = await anchor.prepare({ batchId, memo });
    await store.recordAnchorAttempt({
      batchId,
      signature: prepared.signature,
      memo,
      validUntil: prepared.validUntil,
    });
    // the worker died here, before send()
    const anchorer = anchorBatches(store, { anchor, ...noWait });
    expect(await anchorer.runOnce()).toMatchObject({ inFlight: 1, sent: 0 });
    anchor.expireAll();
    expect(await anchorer.runOnce()).toMatchObject({ sent: 1 });
    expect(await anchorer.runOnce()).toMatchObject({ confirmed: 1 });
    expect(anchor.transactions.size).toBe(1);
    expect((await store.listAnchorAttempts(batchId)).map((a) => a.status)).toEqual(["expired", "confirmed"]);
  });

  it("a crash between send and storing the confirmation: the next pass finds it on chain and confirms it", async () => {
    const { store, batches } = await sealedBatches(1);
    const batchId = batches[0]!.batchId;
    const anchor = memoryAnchor();
    const memo = anchorMemo({ batchId, messageCount: 3, root: batches[0]!.batchHash });
    const prepared = await anchor.prepare({ batchId, memo });
    await store.recordAnchorAttempt({
      batchId,
      signature: prepared.signature,
      memo,
      validUntil: prepared.validUntil,
    });
    await anchor.send(prepared);
    // the worker died here
    const restarted = anchorBatches(store, { anchor, ...noWait });
    expect(await restarted.runOnce()).toMatchObject({ confirmed: 1, sent: 0 });
    expect(anchor.sent).toHaveLength(1);
    expect((await store.getAnchor(batchId))?.signature).toBe(prepared.signature);
  });

  it("two workers at once never send for the same batch", async () => {
    const { store } = await sealedBatches(6);
    const anchor = memoryAnchor({ autoConfirm: false });
    const a = anchorBatches(store, { anchor, owner: "a" });
    const b = anchorBatches(store, { anchor, owner: "b" });
    const [ra, rb] = await Promise.all([a.runOnce(), b.runOnce()]);
    expect(ra.sent + rb.sent).toBe(6);
    expect(new Set(anchor.sent).size).toBe(6);
    expect(store.data.anchorAttempts).toHaveLength(6);
  });
});
