import { parseArgs } from "node:util";

/** What `npm run bench` measures; each flag has an environment variable, the flag wins. */
export interface BenchOptions {
  /** Messages per scenario (valid and bad). */
  readonly messages: number;
  /** Paced scenario: messages per second, and for how long. */
  readonly pacedRate: number;
  readonly pacedSeconds: number;
  /** A scenario that stores no new row for this long ends as STALLED. */
  readonly stallSeconds: number;
  /** Also run the long catch-up, with its RSS over time. */
  readonly long: boolean;
  readonly longMessages: number;
  /** Skip the naive baseline's rows. */
  readonly naive: boolean;
  /** Run only this scenario (for profiling). */
  readonly only: "catch-up" | "burst" | "paced" | undefined;
  /** Add a catch-up whose readings are signed with registered device keys, and a signature-check rate. */
  readonly signed: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]

  --messages N        messages per scenario            [BENCH_MESSAGES, default 60000]
  --rate N            paced scenario, messages/s       [BENCH_PACED_RATE, default 1000]
  --duration S        paced scenario, seconds          [BENCH_PACED_SECONDS, default 15]
  --stall S           no new row for S seconds: STALLED [BENCH_STALL_SECONDS, default 60]
  --long              add a long catch-up, RSS over time [BENCH_LONG=1]
  --long-messages N   its size                         [BENCH_LONG_MESSAGES, default 1000000]
  --no-naive          skip the naive baseline          [BENCH_NAIVE=0]
  --only SCENARIO     only catch-up, burst or paced    [BENCH_ONLY]
  --signed            add "bridge catch-up, signed": every reading signed, device keys
                      registered; and the signature checks per second [BENCH_SIGNED=1]
BENCH_CHILD_NODE_OPTIONS: node flags for the bridge processes (e.g. --cpu-prof).

DATABASE_URL: PostgreSQL admin URL (default: an embedded PostgreSQL). The broker is always the
bench's own mosquitto (aedes in process when mosquitto is not installed).`;

function positive(name: string, flag: string | undefined, env: string | undefined, fallback: number): number {
  const raw = flag ?? env;
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw.replaceAll("_", ""));
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

/** Parses argv (after the script) and the environment. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions | "help" {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      messages: { type: "string" },
      rate: { type: "string" },
      duration: { type: "string" },
      stall: { type: "string" },
      long: { type: "boolean" },
      only: { type: "string" },
      "long-messages": { type: "string" },
      "no-naive": { type: "boolean" },
      signed: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  return {
    messages: Math.round(positive("--messages", values.messages, env.BENCH_MESSAGES, 60_000)),
    pacedRate: positive("--rate", values.rate, env.BENCH_PACED_RATE, 1000),
    pacedSeconds: positive("--duration", values.duration, env.BENCH_PACED_SECONDS, 15),
    stallSeconds: positive("--stall", values.stall, env.BENCH_STALL_SECONDS, 60),
    long: values.long === true || env.BENCH_LONG === "1",
    longMessages: Math.round(
      positive("--long-messages", values["long-messages"], env.BENCH_LONG_MESSAGES, 1_000_000),
    ),
    naive: !(values["no-naive"] === true || env.BENCH_NAIVE === "0"),
    only: scenario(values.only ?? env.BENCH_ONLY),
    signed: values.signed === true || env.BENCH_SIGNED === "1",
  };
}

function scenario(value: string | undefined): BenchOptions["only"] {
  if (value === undefined || value === "") return undefined;
  if (value === "catch-up" || value === "burst" || value === "paced") return value;
  throw new Error(`--only must be catch-up, burst or paced, got "${value}"`);
}
