import { type AnchorEvent, anchorBatches } from "../anchoring/anchorer.js";
import type { Anchor } from "../anchoring/types.js";
import { verifyAnchors } from "../anchoring/verify-anchors.js";
import type { PostgresStore } from "../stores/postgres/index.js";
import { rewriteReadingConsistently } from "./tamper.js";

/** The demo's in-process chain: a LiteSVM with a funded fee payer and a Solana anchor over it. */
export interface DemoChain {
  /** The anchor (real `@solana/kit` transactions, sent to LiteSVM). */
  readonly anchor: Anchor;
  /** What happened on the chain, by batch: signature, slot, fee. */
  readonly anchored: Map<string, { signature: string; slot?: number; feeLamports?: number }>;
  /** Records an anchoring event (the bridge's `anchor` events and the final pass). */
  record(event: AnchorEvent): void;
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}

/**
 * Starts an in-process LiteSVM chain with a funded fee payer, or returns `null` (and says how to
 * get it) when `@solana/kit`, `@solana-program/memo` or `litesvm` is not installed.
 */
export async function startDemoChain(say: (line: string) => void): Promise<DemoChain | null> {
  let modules: [typeof import("../solana/index.js"), typeof import("@solana/kit"), typeof import("litesvm")];
  try {
    modules = await Promise.all([import("../solana/index.js"), import("@solana/kit"), import("litesvm")]);
  } catch (error) {
    if (!isMissing(error)) throw error;
    say(
      "Solana: anchoring skipped — `npm install --save-dev @solana/kit @solana-program/memo litesvm` to see batches anchored on an in-process chain",
    );
    return null;
  }
  const [solana, kit, { LiteSVM }] = modules;
  const svm = new LiteSVM();
  const payer = await kit.generateKeyPairSigner();
  svm.airdrop(payer.address, kit.lamports(1_000_000_000n));
  const anchor = solana.solanaAnchor({ client: solana.litesvmClient(svm), signer: payer });
  say(
    `Solana: in-process LiteSVM chain, fee payer ${payer.address} (1 SOL), memo program ${solana.MEMO_PROGRAM_ADDRESS}`,
  );
  const anchored = new Map<string, { signature: string; slot?: number; feeLamports?: number }>();
  return {
    anchor,
    anchored,
    record(event) {
      if (event.type === "sent") anchored.set(event.batchId, { signature: event.signature });
      if (event.type === "confirmed")
        anchored.set(event.batchId, {
          signature: event.signature,
          slot: event.slot,
          feeLamports: event.feeLamports,
        });
    },
  };
}

/**
 * Anchors what the bridge left (the batch sealed at stop), prints each batch's signature and
 * confirmation, then rewrites one reading consistently and shows `verify` passing and the anchor
 * check catching it. Resolves `true` when the anchors caught the rewrite (and only it).
 */
export async function anchorAndCatchRewrite(
  chain: DemoChain,
  store: PostgresStore,
  databaseUrl: string,
  say: (line: string) => void,
): Promise<boolean> {
  const anchorer = anchorBatches(store, { anchor: chain.anchor, onEvent: (event) => chain.record(event) });
  for (let pass = 0; pass < 20; pass++) {
    const result = await anchorer.runOnce();
    if (result.claimed === 0 || result.sent + result.inFlight + result.confirmed === 0) break;
  }
  say("\nAnchors (one memo transaction per batch, veep-bridge:v1:<batchId>:<messageCount>:<root>):");
  let fees = 0;
  for (const [batchId, tx] of chain.anchored) {
    fees += tx.feeLamports ?? 0;
    say(
      `  batch ${batchId}  signature ${tx.signature}\n      ${tx.slot !== undefined ? `confirmed in slot ${tx.slot}, fee ${tx.feeLamports} lamports` : "NOT confirmed"}`,
    );
  }
  say(`  ${chain.anchored.size} transaction(s), ${fees} lamports in fees (${fees / 1e9} SOL)`);
  const victimBatch = [...chain.anchored.keys()][0];
  if (!victimBatch) return false;
  const [message] = (await store.getBatchMessages(victimBatch, { limit: 1 })).items;
  if (!message) return false;
  const rewrite = await rewriteReadingConsistently(databaseUrl, message.messageId, (payload) => ({
    ...payload,
    kwh: 999.99,
  })).catch(() => null);
  if (!rewrite) return false;
  say(
    `\nInsider rewrite: message ${rewrite.messageId} of batch ${rewrite.batchId}: kwh ${JSON.stringify(rewrite.before.kwh)} → 999.99,` +
      `\n  its message_hash, the batch's leaves and batch_hash recomputed (${rewrite.rootBefore.slice(0, 16)}… → ${rewrite.rootAfter.slice(0, 16)}…)`,
  );
  let dbOk = true;
  for await (const batch of store.verifyBatches()) dbOk &&= batch.ok;
  say(
    `  verify:           ${dbOk ? "passes — every hash and root in the database still matches" : "FAILED"}`,
  );
  const failed: string[] = [];
  let checked = 0;
  for await (const result of verifyAnchors(store, chain.anchor)) {
    checked += 1;
    if (!result.ok) {
      failed.push(result.batchId);
      say(`  verify --anchors: FAILED batch ${result.batchId}: ${result.failure}`);
    }
  }
  say(`  verify --anchors: ${checked - failed.length} of ${checked} anchors match the chain`);
  return dbOk && failed.length === 1 && failed[0] === rewrite.batchId;
}
