import type { PostgresStore } from "../stores/postgres/index.js";
import { messageHash, verifyInclusion } from "../verify.js";

/** What the demo's verification found. */
export interface DemoVerification {
  /** Batches verified. */
  readonly batches: number;
  /** Messages verified. */
  readonly messages: number;
  /** `true` when every batch verified and the printed proof holds. */
  readonly ok: boolean;
}

/** Verifies every batch, printing one line each. */
export async function verifyEveryBatch(
  store: PostgresStore,
  say: (line: string) => void,
): Promise<DemoVerification> {
  let batches = 0;
  let messages = 0;
  let ok = true;
  for await (const batch of store.verifyBatches()) {
    batches += 1;
    messages += batch.leafCount;
    ok &&= batch.ok;
    const verdict = batch.ok ? "ok    " : "FAILED";
    say(
      `  ${verdict} batch ${batch.batchId}  ${batch.status.padEnd(8)} ${String(batch.leafCount).padStart(5)} messages  root ${batch.storedRoot.slice(0, 16)}…`,
    );
    if (batch.failure) say(`         ${batch.failure.reason}: ${batch.failure.detail}`);
  }
  return { batches, messages, ok };
}

/** Prints the newest dead letters (the bad payloads the devices sent). */
export async function showDeadLetters(store: PostgresStore, say: (line: string) => void): Promise<void> {
  const letters = await store.listDeadLetters({ limit: 5 });
  for (const letter of letters) {
    const text = new TextDecoder().decode(letter.payload);
    say(
      `  ${letter.reason.padEnd(16)} ${letter.topic}  ${JSON.stringify(text.length > 48 ? `${text.slice(0, 48)}…` : text)}`,
    );
  }
}

/**
 * Prints the inclusion proof of one message of `batchId` (a third of the way in) as JSON, recomputes its message hash
 * from the stored payload and checks the proof against the batch's stored root and size.
 */
export async function showOneProof(
  store: PostgresStore,
  batchId: string,
  say: (line: string) => void,
): Promise<boolean> {
  const batch = await store.getBatch(batchId);
  const third = Math.floor((batch?.messageCount ?? 0) / 3);
  const message = (await store.getBatchMessages(batchId, { limit: third + 1 })).items[third];
  if (!message || !batch) {
    say("  (no message to prove)");
    return false;
  }
  const proof = await store.getProof(message.messageId);
  if (!proof) return false;
  say(`Inclusion proof of message ${message.messageId} (${message.topic}):`);
  say(JSON.stringify(proof, null, 2));
  const rehashed = messageHash(message.rawData);
  const holds = verifyInclusion(proof, { root: batch.batchHash, treeSize: batch.messageCount });
  say(
    `  payload → RFC 8785 canonical JSON → SHA-256 = ${rehashed} ${rehashed === proof.messageHash ? "(matches messageHash)" : "(DOES NOT match)"}`,
  );
  say(
    `  audit path of ${proof.auditPath.length} hashes leads to batch_hash ${batch.batchHash}: ${holds ? "proof holds" : "proof FAILS"}`,
  );
  return holds && rehashed === proof.messageHash;
}
