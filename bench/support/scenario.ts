import { randomBytes } from "node:crypto";
import pg from "pg";
import type { BrokerKind } from "./broker.js";
import type { ChildEnd } from "./child-runner.js";
import { ChildRunner } from "./child-runner.js";
import { databaseCounts, migrateDatabase, withDatabase } from "./database.js";
import { Publisher } from "./publisher.js";
import type { ScenarioResult } from "./result.js";
import type { RssSample } from "./rss-sampler.js";
import { waitForStored } from "./wait-stored.js";
import type { Workload } from "./workload.js";

export type ScenarioKind = "catch-up" | "burst" | "paced";

/** A bridge under test: a script speaking the child protocol. */
export interface Contender {
  readonly name: string;
  /** Path from the worktree root. */
  readonly script: string;
  /** `false`: the bench applies the migrations first. */
  readonly migratesItself: boolean;
  /** It stores bad payloads as readings instead of refusing them (the naive baseline). */
  readonly acceptsBadInput: boolean;
}

/** What every scenario needs. */
export interface ScenarioContext {
  readonly adminUrl: string;
  readonly broker: BrokerKind;
  readonly stallMs: number;
  readonly pacedRate: number;
  /** Progress lines (stderr). */
  readonly log: (line: string) => void;
}

const READY_MS = 60_000;
const STOP_GRACE_MS = 20_000;
const TIMELINE_EVERY_MS = 5_000;

function describeEnd(child: ChildRunner, end: ChildEnd): string[] {
  const notes: string[] = [];
  if (end.killed) notes.push(`did not stop within ${STOP_GRACE_MS / 1000} s of SIGTERM: killed`);
  if (!end.final && !end.killed) notes.push(`exited without its final line: ${child.stderr}`);
  const states = [...child.sourceStates];
  if (states.some(([state, n]) => state !== "online" || n > 1)) {
    notes.push(`source events: ${states.map(([state, n]) => `${state} ×${n}`).join(", ")}`);
  }
  const error = child.last("error");
  if (error)
    notes.push(`${child.errors} error event(s), last: ${String(error["code"] ?? "")} ${error.message ?? ""}`);
  return notes;
}

/**
 * One scenario for one contender, in a database and a broker of its own, both removed afterwards
 * (as are the child processes) whatever happens.
 */
export async function runScenario(
  context: ScenarioContext,
  contender: Contender,
  kind: ScenarioKind,
  workload: Workload,
  options: { readonly label?: string; readonly timeline?: boolean } = {},
): Promise<ScenarioResult> {
  if (workload.signed && kind !== "catch-up") throw new Error("a signed workload runs as a catch-up only");
  const name = options.label ?? `${contender.name} ${kind}`;
  return withDatabase(context.adminUrl, async (url) => {
    if (!contender.migratesItself) await migrateDatabase(url);
    const broker = await context.broker.start();
    const watcher = new pg.Client({ connectionString: url });
    const children: ChildRunner[] = [];
    let publisher: Publisher | undefined;
    const env = {
      DATABASE_URL: url,
      MQTT_URL: broker.url,
      MQTT_CLIENT_ID: `veep-bench-${contender.name}-${kind}-${randomBytes(3).toString("hex")}`,
      BENCH_TARGET: String(workload.valid),
    };
    const spawnChild = (): ChildRunner => {
      const child = new ChildRunner(contender.script, env);
      children.push(child);
      return child;
    };
    try {
      await watcher.connect();
      let child: ChildRunner;
      let startedAt: number;
      let publishing: Promise<void> = Promise.resolve();
      if (kind === "catch-up") {
        context.log(`${name}: first start, to create the persistent session`);
        const first = spawnChild();
        await first.waitFor("ready", READY_MS);
        const firstEnd = await first.stop(STOP_GRACE_MS);
        if (!firstEnd.final) throw new Error(`${name}: the first run did not stop cleanly`);
        if (workload.signed) {
          // The first run migrated the database: register the devices' keys, as
          // `veep-bridge devices set-key` would, so that the bridge checks every reading.
          const keys = workload.deviceKeys();
          context.log(`${name}: registering ${keys.length} device keys`);
          await watcher.query(
            `INSERT INTO devices (device_id, tenant_id, site_id, public_key)
             SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[])
             ON CONFLICT (device_id) DO UPDATE SET public_key = EXCLUDED.public_key`,
            [
              keys.map((k) => k.deviceId),
              keys.map((k) => k.tenantId),
              keys.map((k) => k.siteId),
              keys.map((k) => k.publicKey),
            ],
          );
        }
        context.log(`${name}: publishing ${workload.total.toLocaleString("en")} while it is down`);
        publisher = await Publisher.connect(broker.url);
        await publisher.burst(workload);
        await publisher.end();
        publisher = undefined;
        context.log(`${name}: starting it again`);
        child = spawnChild();
        startedAt = (await child.waitFor("starting", READY_MS)).at ?? Date.now();
      } else {
        child = spawnChild();
        await child.waitFor("ready", READY_MS);
        const live = await Publisher.connect(broker.url);
        publisher = live;
        context.log(`${name}: publishing ${workload.total.toLocaleString("en")}`);
        startedAt = Date.now();
        publishing = (
          kind === "burst" ? live.burst(workload) : live.paced(workload, context.pacedRate)
        ).catch((error: unknown) => context.log(`${name}: publisher failed: ${String(error)}`));
      }
      const timeline: Array<RssSample & { stored: number }> = [];
      let nextSample = 0;
      const outcome = await waitForStored(watcher, workload.valid, {
        stallMs: context.stallMs,
        reportedDoneAt: () => child.last("done")?.at,
        alive: () => child.alive,
        onPoll: (stored) => {
          const sample = child.sampler.latest;
          if (!sample || sample.t < nextSample) return;
          nextSample = sample.t + TIMELINE_EVERY_MS;
          if (options.timeline) timeline.push({ ...sample, stored });
          context.log(
            `${name}: ${stored.toLocaleString("en")} stored, VmRSS ${Math.round(sample.rssKb / 1024)} MB`,
          );
        },
      });
      await Promise.race([publishing, new Promise((resolve) => setTimeout(resolve, 5000))]);
      const end = await child.stop(STOP_GRACE_MS);
      const counts = await databaseCounts(watcher);
      const stats = end.final?.stats ?? child.last("progress")?.stats;
      const peaks = [child.sampler.peakKb, end.final?.maxRssKb ?? 0].filter((kb) => kb > 0);
      return {
        name,
        acceptsBadInput: contender.acceptsBadInput,
        messages: workload.total,
        target: workload.valid,
        outcome: outcome.kind,
        seconds: (outcome.at - startedAt) / 1000,
        storedAtOutcome: outcome.count,
        storedAtEnd: counts.messages,
        received: stats?.received,
        stats,
        deadLetters: counts.deadLetters,
        distinctDeadLetters: counts.distinctDeadLetters,
        distinctBad: workload.distinctBad(),
        cpuMs: end.final?.cpuMs,
        peakRssKb: peaks.length > 0 ? Math.max(...peaks) : undefined,
        latency: end.final?.latency,
        timeline,
        notes: describeEnd(child, end),
      };
    } finally {
      await publisher?.end(true);
      for (const child of children) await child.kill();
      await watcher.end().catch(() => undefined);
      await broker.stop();
    }
  });
}
