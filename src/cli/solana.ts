import type { AggregationOptions } from "../index.js";
import type * as SolanaModule from "../solana/index.js";
import { durationFlag, type FlagSpec, type FlagValues, positiveIntegerFlag, stringFlag } from "./args.js";
import { usageError } from "./cli-error.js";
import { importOptional } from "./optional-import.js";

/** The Solana flags of `anchor` and `verify --anchors`. */
export const SOLANA_FLAGS: FlagSpec = {
  keypair: { type: "string" },
  "rpc-url": { type: "string" },
  commitment: { type: "string" },
};

/** Help lines for {@link SOLANA_FLAGS}. */
export const SOLANA_HELP = `Solana:
  --keypair FILE       the fee payer: a Solana CLI JSON keypair file (default: SOLANA_KEYPAIR);
                       its content is never printed, only the payer's public address
  --rpc-url URL        the cluster's JSON-RPC URL (default: SOLANA_RPC_URL), e.g.
                       https://api.devnet.solana.com
  --commitment LEVEL   processed, confirmed or finalized (default: SOLANA_COMMITMENT, else confirmed)`;

/** The aggregation flags of `anchor` and `run --anchor`. */
export const AGGREGATE_FLAGS: FlagSpec = {
  aggregate: { type: "string" },
  "aggregate-wait": { type: "string" },
};

/** Help lines for {@link AGGREGATE_FLAGS}. */
export const AGGREGATE_HELP = `Aggregation (one transaction, one fee, for several batches; memo veep-bridge:v2:…):
  --aggregate N              anchor up to N batches (2 to 1024) in one transaction (default:
                             VEEP_ANCHOR_AGGREGATE, else 1: one transaction per batch)
  --aggregate-wait DURATION  send a smaller group once its oldest batch has waited this long
                             (default: VEEP_ANCHOR_AGGREGATE_WAIT, else 60s)`;

/**
 * The aggregation settings from flags, then `VEEP_ANCHOR_AGGREGATE(_WAIT)`; `undefined` for one
 * transaction per batch.
 */
export function aggregationSettings(
  command: string,
  values: FlagValues,
  env: Readonly<Record<string, string | undefined>>,
  defaultWaitMs: number,
): AggregationOptions | undefined {
  const maxBatches = positiveIntegerFlag(
    command,
    "--aggregate / VEEP_ANCHOR_AGGREGATE",
    stringFlag(values, "aggregate") ?? env.VEEP_ANCHOR_AGGREGATE,
  );
  if (maxBatches === undefined || maxBatches === 1) return undefined;
  if (maxBatches > 1024)
    throw usageError("--aggregate / VEEP_ANCHOR_AGGREGATE must be at most 1024", command);
  const maxWaitMs =
    durationFlag(
      command,
      "--aggregate-wait / VEEP_ANCHOR_AGGREGATE_WAIT",
      stringFlag(values, "aggregate-wait") ?? env.VEEP_ANCHOR_AGGREGATE_WAIT,
    ) ?? defaultWaitMs;
  return { maxBatches, maxWaitMs };
}

/** The resolved Solana settings. */
export interface SolanaSettings {
  /** Path of the keypair file, if given. */
  readonly keypairPath: string | undefined;
  /** JSON-RPC URL. */
  readonly rpcUrl: string;
  /** Commitment level. */
  readonly commitment: "processed" | "confirmed" | "finalized";
}

const COMMITMENTS = ["processed", "confirmed", "finalized"] as const;

/** Flags first, then `SOLANA_*` variables. */
export function solanaSettings(
  command: string,
  values: FlagValues,
  env: Readonly<Record<string, string | undefined>>,
): SolanaSettings {
  const rpcUrl = stringFlag(values, "rpc-url") ?? env.SOLANA_RPC_URL;
  if (!rpcUrl)
    throw usageError(
      "give the Solana cluster: --rpc-url URL or SOLANA_RPC_URL (devnet: https://api.devnet.solana.com)",
      command,
    );
  const commitment = stringFlag(values, "commitment") ?? env.SOLANA_COMMITMENT ?? "confirmed";
  if (!(COMMITMENTS as readonly string[]).includes(commitment))
    throw usageError(
      `--commitment / SOLANA_COMMITMENT must be one of ${COMMITMENTS.join(", ")}, got "${commitment}"`,
      command,
    );
  return {
    keypairPath: stringFlag(values, "keypair") ?? env.SOLANA_KEYPAIR,
    rpcUrl,
    commitment: commitment as SolanaSettings["commitment"],
  };
}

/** Loads `veep-bridge/solana`; without `@solana/kit` or `@solana-program/memo` installed, exit 5 saying so. */
export function loadSolana(): Promise<typeof SolanaModule> {
  const instead = "anchor through the library with another Anchor";
  return importOptional(
    "@solana/kit",
    () => importOptional("@solana-program/memo", () => import("../solana/index.js"), instead),
    instead,
  );
}

/** The Solana anchor paying from the keypair file of `settings` (loaded as {@link loadSolana} does). */
export async function feePayerAnchor(
  settings: SolanaSettings & { readonly keypairPath: string },
): Promise<SolanaModule.SolanaAnchor> {
  const { keypairPath, rpcUrl, commitment } = settings;
  return (await loadSolana()).solanaAnchor({ keypairPath, rpcUrl, commitment });
}

/** The host of a URL (what the CLI prints of an RPC URL: an API key in its path or query stays out). */
export function rpcHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "the configured RPC";
  }
}
