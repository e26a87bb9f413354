import { type AnchorEvent, anchorBatches } from "../../anchoring/index.js";
import { booleanFlag, durationFlag, parseCommandArgs, positiveIntegerFlag, stringFlag } from "../args.js";
import { usageError } from "../cli-error.js";
import { type Command, printError, printLine } from "../command.js";
import { DATABASE_FLAGS, DATABASE_HELP, storeOptionsFrom, withStore } from "../database.js";
import { EXIT } from "../exit-codes.js";
import { pause } from "../pause.js";
import { waitForShutdownSignal } from "../signals.js";
import {
  AGGREGATE_FLAGS,
  AGGREGATE_HELP,
  aggregationSettings,
  feePayerAnchor,
  rpcHost,
  SOLANA_FLAGS,
  SOLANA_HELP,
  solanaSettings,
} from "../solana.js";

const HELP = `Usage: veep-bridge anchor [--watch] [--interval 5s] [--timeout 2m] [--batch-limit N] [--aggregate N]

Anchors every sealed batch on Solana: one memo transaction per batch, with the text
  veep-bridge:v1:<batchId>:<messageCount>:<rootHex>
(or, with --aggregate, one per group of batches: veep-bridge:v2:<batchCount>:<rootHex>, the
RFC 9162 root over the batches, each batch keeping its path to it)
to the memo program MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr, and takes each batch from
complete to blockchain_pending (signature stored before it is sent) to blockchain_confirmed
(slot stored). A failed batch is kept as failed with the reason and retried with backoff; a
transaction whose blockhash expired is sent again. Every attempt is a row of
blockchain_transactions. Safe to run next to bridges that anchor and next to other workers.

Without --watch: anchors what is due, waits for the confirmations, and exits 0, or 1 if a batch
failed (it is retried on the next run). With --watch: goes on until SIGINT/SIGTERM.

Options:
  --watch              keep anchoring and confirming
  --interval DURATION  time between passes with --watch (default 5s)
  --timeout DURATION   without --watch, stop waiting for confirmations after this (default 2m)
  --batch-limit N      batches per pass (default 20)
  -h, --help           show this help

${AGGREGATE_HELP}
  Without --watch, a group smaller than N is sent at once unless --aggregate-wait is given.

${SOLANA_HELP}

${DATABASE_HELP}`;

function describe(event: AnchorEvent): string {
  switch (event.type) {
    case "sent":
      return `sent       ${event.batchId}  ${event.signature}`;
    case "confirmed":
      return `confirmed  ${event.batchId}  slot ${event.slot}  fee ${event.feeLamports} lamports  ${event.signature}`;
    case "expired":
      return `expired    ${event.batchId}  ${event.signature} (blockhash expired before it landed; sending another)`;
    case "failed":
      return `FAILED     ${event.batchId}  ${event.reason} (retry after ${event.retryAt.toISOString()})`;
  }
}

/** `veep-bridge anchor`. */
export const anchorCommand: Command = {
  name: "anchor",
  summary: "anchor sealed batches on Solana and confirm them (--watch to keep going)",
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs("anchor", argv, {
      ...DATABASE_FLAGS,
      ...SOLANA_FLAGS,
      ...AGGREGATE_FLAGS,
      watch: { type: "boolean" },
      interval: { type: "string" },
      timeout: { type: "string" },
      "batch-limit": { type: "string" },
    });
    const settings = solanaSettings("anchor", values, process.env);
    if (!settings.keypairPath)
      throw usageError(
        "give the fee payer: --keypair FILE or SOLANA_KEYPAIR (a Solana CLI keypair file)",
        "anchor",
      );
    const watch = booleanFlag(values, "watch");
    const intervalMs = durationFlag("anchor", "--interval", stringFlag(values, "interval")) ?? 5000;
    const timeoutMs = durationFlag("anchor", "--timeout", stringFlag(values, "timeout")) ?? 120_000;
    const batchLimit =
      positiveIntegerFlag("anchor", "--batch-limit", stringFlag(values, "batch-limit")) ?? 20;
    const aggregate = aggregationSettings("anchor", values, process.env, watch ? 60_000 : 0);
    const anchor = await feePayerAnchor({ ...settings, keypairPath: settings.keypairPath });
    const stop = new AbortController();
    if (watch) void waitForShutdownSignal(() => process.exit(EXIT.interrupted)).then(() => stop.abort());
    const failedBatches = new Set<string>();
    await withStore(storeOptionsFrom(values), async (store) => {
      const payer = await anchor.address();
      printLine(`fee payer ${payer} on ${rpcHost(settings.rpcUrl)} (commitment ${settings.commitment})`);
      const anchorer = anchorBatches(store, {
        anchor,
        batchLimit,
        ...(aggregate ? { aggregate } : {}),
        onEvent: (event) => {
          if (event.type === "failed") failedBatches.add(event.batchId);
          if (event.type === "confirmed") failedBatches.delete(event.batchId);
          (event.type === "failed" ? printError : printLine)(describe(event));
        },
      });
      const deadline = Date.now() + timeoutMs;
      while (!stop.signal.aborted) {
        const pass = await anchorer.runOnce();
        if (watch) {
          await pause(
            pass.sent > 0 || pass.inFlight > 0 ? Math.min(intervalMs, 1000) : intervalMs,
            stop.signal,
          );
          continue;
        }
        if (pass.claimed === 0 || pass.sent + pass.inFlight + pass.confirmed === 0) break;
        if (Date.now() > deadline) {
          printError(
            `still waiting for ${pass.inFlight} confirmation(s) after ${timeoutMs / 1000} s; run again later`,
          );
          break;
        }
        await pause(500, stop.signal);
      }
    });
    return failedBatches.size > 0 ? EXIT.verificationFailed : EXIT.ok;
  },
};
