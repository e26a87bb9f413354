/**
 * Catch-up benchmark (`npm run bench`): how fast the bridge that `veep-bridge run` builds, with the
 * CLI's default settings, empties a broker backlog into PostgreSQL, against two baselines measured
 * in the same run: a raw COPY of the same rows (the database's ceiling) and a naive hand-written
 * bridge (naive-bridge.ts). Scenarios: catch-up (backlog published while the bridge is down),
 * burst while connected, paced. Prints one table; see docs/performance.md for how to read it.
 *
 * With `--signed`, also a catch-up whose readings are all signed (device keys registered), and the
 * signature checks per second of one thread.
 *
 * With `--signed`, also a catch-up whose readings are all signed (device keys registered), and the
 * signature checks per second of one thread.
 *
 *   npm run bench -- [--messages N] [--rate N] [--duration S] [--stall S] [--long] [--no-naive] [--signed] [--signed]
 */
import { randomBytes } from "node:crypto";
import { brokerKind } from "./support/broker.js";
import { bundled } from "./support/bundle.js";
import { copyCeiling } from "./support/copy-ceiling.js";
import { postgresServer } from "./support/database.js";
import { machineFacts } from "./support/machine.js";
import { parseOptions, USAGE } from "./support/options.js";
import { failedResult, type ScenarioResult } from "./support/result.js";
import { type Contender, runScenario, type ScenarioContext, type ScenarioKind } from "./support/scenario.js";
import { signatureCheckRate } from "./support/signature-rate.js";
import { renderNotes, renderTable, renderTimeline } from "./support/table.js";
import { Workload } from "./support/workload.js";

const BRIDGE: Contender = {
  name: "bridge",
  script: bundled("bench/support/bridge-child.ts"),
  migratesItself: true,
  acceptsBadInput: false,
};
const NAIVE: Contender = {
  name: "naive",
  script: bundled("bench/naive-bridge.ts"),
  migratesItself: false,
  acceptsBadInput: true,
};

const options = parseOptions(process.argv.slice(2), process.env);
if (options === "help") {
  console.log(USAGE);
  process.exit(0);
}

const n = (value: number): string => value.toLocaleString("en");
const began = Date.now();
const log = (line: string): void => {
  process.stderr.write(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
};
const salt = randomBytes(4).toString("hex");
const workload = new Workload(options.messages, salt);
const paced = new Workload(Math.round(options.pacedRate * options.pacedSeconds), `${salt}p`);
const broker = brokerKind();
const server = await postgresServer();
try {
  console.log(`veep-bridge catch-up benchmark, ${new Date().toISOString()}`);
  for (const line of await machineFacts(server.adminUrl, server.label)) console.log(line);
  console.log(`broker: ${broker.label}`);
  for (const setting of broker.settings) console.log(`  ${setting}`);
  console.log(
    "bridge: bench/support/bridge-child.ts (bundled, plain node), i.e. veep-bridge run with its defaults",
  );
  console.log(
    `workload: ${n(options.messages)} messages per scenario, 10 devices, ${n(workload.bad)} bad ` +
      `(${n(workload.distinctBad())} distinct)\n  paced: ${n(options.pacedRate)} msg/s for ` +
      `${options.pacedSeconds} s (${n(paced.total)} messages)\n`,
  );

  log("raw COPY ceiling");
  const ceiling = await copyCeiling(server.adminUrl, workload);
  const context: ScenarioContext = {
    adminUrl: server.adminUrl,
    broker,
    stallMs: options.stallSeconds * 1000,
    pacedRate: options.pacedRate,
    log,
  };
  const plan: Array<[Contender, ScenarioKind, Workload]> = [];
  for (const contender of options.naive ? [NAIVE, BRIDGE] : [BRIDGE]) {
    plan.push([contender, "catch-up", workload], [contender, "burst", workload], [contender, "paced", paced]);
  }
  const results: ScenarioResult[] = [];
  const run = async (
    contender: Contender,
    kind: ScenarioKind,
    messages: Workload,
    extra: { label?: string; timeline?: boolean } = {},
  ): Promise<void> => {
    const name = extra.label ?? `${contender.name} ${kind}`;
    try {
      results.push(await runScenario(context, contender, kind, messages, { ...extra, label: name }));
    } catch (error) {
      log(`${name}: failed: ${String(error)}`);
      results.push(failedResult(name, messages.total, messages.valid, error));
    }
  };
  for (const [contender, kind, messages] of plan) {
    if (options.only === undefined || options.only === kind) await run(contender, kind, messages);
  }
  let checksPerSecond: number | undefined;
  if (options.signed) {
    const signed = new Workload(options.messages, `${salt}s`, { signed: true });
    log("signature checks per second, one thread");
    checksPerSecond = await signatureCheckRate(signed);
    await run(BRIDGE, "catch-up", signed, { label: "bridge catch-up, signed" });
  }
  if (options.long) {
    const long = new Workload(options.longMessages, `${salt}l`);
    const size = new Intl.NumberFormat("en", { notation: "compact" }).format(options.longMessages);
    await run(BRIDGE, "catch-up", long, { label: `bridge catch-up ${size}`, timeline: true });
  }
  console.log(renderTable(ceiling, results).join("\n"));
  console.log(`\n${renderNotes(results, options.stallSeconds).join("\n")}`);
  if (checksPerSecond !== undefined) {
    console.log(
      `\nsignature checks: ${n(Math.round(checksPerSecond))} per second on one thread (the bridge's check ` +
        "of a decoded reading: canonical JSON without its signature, Ed25519 verify with node:crypto)",
    );
  }
  for (const result of results) {
    if (result.timeline.length > 0) console.log(`\n${renderTimeline(result).join("\n")}`);
  }
  console.log(`\nwhole run: ${((Date.now() - began) / 1000).toFixed(0)} s`);
} finally {
  await server.stop();
}
// A child, broker or client left behind by a failure must not keep the bench alive.
process.exit(process.exitCode ?? 0);
