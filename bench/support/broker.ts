import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "./net.js";

/** A broker of the bench's own, started fresh for each scenario. */
export interface BenchBroker {
  readonly url: string;
  stop(): Promise<void>;
}

/** Which broker the bench uses, and with which settings (printed in the header). */
export interface BrokerKind {
  readonly label: string;
  readonly settings: readonly string[];
  start(): Promise<BenchBroker>;
}

/** Only what differs from mosquitto's stock configuration. */
const MOSQUITTO_SETTINGS = [
  "persistence true (own temp directory)",
  "max_queued_messages 0 (no limit: the stock 1000 drops QoS 1 messages for an offline session)",
  "max_inflight_messages 20 (stock default, not set), everything else stock",
];

/** The installed mosquitto's version line, or `undefined` when there is none. */
export function mosquittoVersion(): string | undefined {
  const probe = spawnSync("mosquitto", ["-h"], { encoding: "utf8" });
  if (probe.error) return undefined;
  return /mosquitto version (\S+)/.exec(probe.stdout)?.[1] ?? "unknown";
}

async function startMosquitto(): Promise<BenchBroker> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "veep-bench-mosq-"));
  // Started as root, mosquitto drops to user `mosquitto`, which must write its persistence file here.
  if (process.getuid?.() === 0) await chmod(dir, 0o777);
  const config = join(dir, "mosquitto.conf");
  await writeFile(
    config,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence true",
      `persistence_location ${dir}/`,
      "max_queued_messages 0",
      "log_dest none",
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn("mosquitto", ["-c", config], { stdio: "ignore" });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `mqtt://127.0.0.1:${port}`, stop };
}

async function startAedes(): Promise<BenchBroker> {
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    stop: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** mosquitto when its binary is installed, else an in-process aedes (which the header says). */
export function brokerKind(): BrokerKind {
  const version = mosquittoVersion();
  if (version !== undefined) {
    return {
      label: `mosquitto ${version}, own process per scenario`,
      settings: MOSQUITTO_SETTINGS,
      start: startMosquitto,
    };
  }
  return {
    label: "aedes 1.2 in this process (fallback: no mosquitto installed)",
    settings: ["stock aedes settings, in-memory persistence"],
    start: startAedes,
  };
}
