/**
 * A custom Store: every commit is one line appended to a JSON Lines journal file, and opening the
 * store replays the journal. It is small enough to read in one sitting, and it passes the same
 * `storeConformance` suite as the PostgreSQL and memory stores (see journal-store.test.ts).
 *
 * The imports are the package's own names; inside this repository they resolve to the sources
 * (tsconfig `paths`, vitest `resolve.alias`).
 */

import { randomUUID } from "node:crypto";
import { appendFile, readFile } from "node:fs/promises";
import {
  type AppendRequest,
  type AppendResult,
  type BatchLeaf,
  type BatchRecord,
  type DeadLetterRecord,
  inclusionProof,
  type MessageProof,
  type OpenBatchSnapshot,
  type Reading,
  type SealRequest,
  type Store,
  StoreError,
} from "veep-bridge";

interface StoredMessage {
  readonly messageId: string;
  readonly batchId: string;
  readonly leafIndex: number;
  readonly messageHash: string;
  readonly topic: string;
  readonly rawData: string;
}

interface StoredBatch extends Omit<BatchRecord, "startTimestamp" | "endTimestamp"> {
  readonly startTimestamp: string;
  readonly endTimestamp: string;
}

interface StoredLetter {
  readonly id: string;
  readonly topic: string;
  readonly reason: DeadLetterRecord["reason"];
  readonly detail: string;
  readonly payloadBase64: string;
  readonly receivedAt: string;
}

/** One journal line: everything a single commit wrote. */
type Entry =
  | {
      readonly op: "append";
      readonly batch?: StoredBatch;
      readonly messages: StoredMessage[];
      readonly letters: StoredLetter[];
    }
  | { readonly op: "status"; readonly batchId: string; readonly status: BatchRecord["status"] };

/** The state rebuilt from the journal. */
class Journal {
  readonly batches = new Map<string, StoredBatch>();
  readonly messages = new Map<string, StoredMessage>();
  readonly hashes = new Set<string>();
  readonly leaves = new Map<string, StoredMessage[]>();
  readonly letters: StoredLetter[] = [];

  apply(entry: Entry): void {
    if (entry.op === "status") {
      const batch = this.batches.get(entry.batchId);
      if (batch) this.batches.set(entry.batchId, { ...batch, status: entry.status });
      return;
    }
    if (entry.batch) this.batches.set(entry.batch.batchId, entry.batch);
    for (const message of entry.messages) {
      this.messages.set(message.messageId, message);
      this.hashes.add(message.messageHash);
      const leaves = this.leaves.get(message.batchId) ?? [];
      leaves.push(message);
      this.leaves.set(message.batchId, leaves);
    }
    this.letters.push(...entry.letters);
  }
}

function toRecord(batch: StoredBatch): BatchRecord {
  return {
    ...batch,
    startTimestamp: new Date(batch.startTimestamp),
    endTimestamp: new Date(batch.endTimestamp),
  };
}

/** A {@link Store} that keeps its data in a JSON Lines journal at `path`. */
export function journalStore(path: string): Store {
  let journal = new Journal();
  let closed = false;

  const write = async (entry: Entry): Promise<void> => {
    if (closed) throw new StoreError("journal store is closed");
    await appendFile(path, `${JSON.stringify(entry)}\n`);
    journal.apply(entry);
  };

  const batchOf = (batchId: string): StoredBatch | undefined => journal.batches.get(batchId);

  return {
    name: "journal",

    async open() {
      journal = new Journal();
      const text = await readFile(path, "utf8").catch(() => "");
      for (const line of text.split("\n")) if (line) journal.apply(JSON.parse(line) as Entry);
    },

    async loadOpenBatch(): Promise<OpenBatchSnapshot | null> {
      const open = [...journal.batches.values()].find((b) => b.status === "pending");
      if (!open) return null;
      return {
        ...toRecord(open),
        leaves: (journal.leaves.get(open.batchId) ?? []).map((m) => m.messageHash),
      };
    },

    async append(request: AppendRequest): Promise<AppendResult> {
      const existing = batchOf(request.batchId);
      if (existing && existing.status !== "pending") {
        throw new StoreError(`batch ${request.batchId} is ${existing.status}; it takes no more messages`);
      }
      const duplicates: Reading[] = request.readings.filter((r) => journal.hashes.has(r.messageHash));
      const fresh = request.readings.filter((r) => !journal.hashes.has(r.messageHash));
      const plan = fresh.length > 0 ? request.plan(fresh) : null;
      const storedLeaves = journal.leaves.get(request.batchId)?.length ?? 0;
      if (plan && (plan.createsBatch === Boolean(existing) || plan.leaves[0]?.leafIndex !== storedLeaves)) {
        throw new StoreError(
          `batch ${request.batchId}: the plan does not continue its ${storedLeaves} stored leaves`,
        );
      }
      const letters: StoredLetter[] = request.rejections.map((r) => ({
        id: randomUUID(),
        topic: r.topic,
        reason: r.reason,
        detail: r.detail,
        payloadBase64: Buffer.from(r.payload).toString("base64"),
        receivedAt: r.receivedAt.toISOString(),
      }));
      const batch: StoredBatch | undefined = plan
        ? {
            batchId: plan.batchId,
            batchHash: plan.batchHash,
            messageCount: plan.messageCount,
            startTimestamp: plan.startTimestamp.toISOString(),
            endTimestamp: plan.endTimestamp.toISOString(),
            status: "pending",
          }
        : undefined;
      const messages: StoredMessage[] = (plan?.leaves ?? []).map(({ reading, leafIndex }) => ({
        messageId: reading.messageId,
        batchId: request.batchId,
        leafIndex,
        messageHash: reading.messageHash,
        topic: reading.topic,
        rawData: reading.canonicalJson,
      }));
      if (batch || letters.length > 0)
        await write({ op: "append", ...(batch ? { batch } : {}), messages, letters });
      return { plan, duplicates, refused: [] };
    },

    async sealBatch(request: SealRequest): Promise<BatchRecord> {
      const batch = batchOf(request.batchId);
      if (batch?.status !== "pending") throw new StoreError(`no pending batch ${request.batchId}`);
      if (batch.batchHash !== request.batchHash || batch.messageCount !== request.messageCount) {
        throw new StoreError(
          `batch ${request.batchId}: the stored root or count differs from the one to seal`,
        );
      }
      await write({ op: "status", batchId: request.batchId, status: "complete" });
      return toRecord({ ...batch, status: "complete" });
    },

    async failBatch(batchId: string) {
      await write({ op: "status", batchId, status: "failed" });
    },

    async getBatch(batchId: string) {
      const batch = batchOf(batchId);
      return batch ? toRecord(batch) : null;
    },

    async getBatchLeaves(batchId: string): Promise<readonly BatchLeaf[]> {
      return (journal.leaves.get(batchId) ?? []).map(({ messageId, leafIndex, messageHash }) => ({
        messageId,
        leafIndex,
        messageHash,
      }));
    },

    async getProof(messageId: string): Promise<MessageProof | null> {
      const message = journal.messages.get(messageId);
      const batch = message && batchOf(message.batchId);
      if (!message || !batch) return null;
      const hashes = (journal.leaves.get(batch.batchId) ?? []).map((m) => m.messageHash);
      return {
        ...inclusionProof(hashes, message.leafIndex),
        messageId,
        batchId: batch.batchId,
        batchStatus: batch.status,
      };
    },

    async listDeadLetters(options = {}): Promise<readonly DeadLetterRecord[]> {
      return journal.letters
        .slice()
        .reverse()
        .slice(0, options.limit ?? 100)
        .map((l) => ({
          id: l.id,
          topic: l.topic,
          reason: l.reason,
          detail: l.detail,
          payload: new Uint8Array(Buffer.from(l.payloadBase64, "base64")),
          receivedAt: new Date(l.receivedAt),
        }));
    },

    async close() {
      closed = true;
    },
  };
}
