import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";

/** A broker a test talks to; `stop` is a no-op for the machine's broker. */
export interface TestBroker {
  readonly name: string;
  readonly url: string;
  /** MQTT 5 support (aedes speaks 3.1.1 only). */
  readonly mqtt5: boolean;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** An in-process aedes broker on a free port. Reusing `persistence` across restarts models a durable store. */
export interface AedesBroker extends TestBroker {
  readonly port: number;
  /** aedes's persistence object, to hand to a restarted broker. */
  readonly persistence: unknown;
}

/** Starts aedes on `port` (or a free one), optionally with an existing persistence. */
export async function startAedes(
  options: { port?: number; persistence?: unknown; password?: string } = {},
): Promise<AedesBroker> {
  const { Aedes } = await import("aedes");
  const { default: memoryPersistence } = (await import("aedes-persistence")) as unknown as {
    default: () => unknown;
  };
  const persistence = options.persistence ?? memoryPersistence();
  const broker = await Aedes.createBroker({
    // biome-ignore lint/suspicious/noExplicitAny: aedes types its persistence option as any
    persistence: persistence as any,
    authenticate: (_client, _user, password, done) => {
      if (options.password === undefined || password?.toString() === options.password) done(null, true);
      else done(Object.assign(new Error("bad password"), { returnCode: 4 as const }), false);
    },
  });
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  let stopped = false;
  return {
    name: "aedes",
    url: `mqtt://127.0.0.1:${port}`,
    port,
    mqtt5: false,
    persistence,
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `true` when a `mosquitto` binary is installed. */
export function hasMosquitto(): boolean {
  return spawnSync("mosquitto", ["-h"], { stdio: "ignore" }).error === undefined;
}

/** A mosquitto process of our own (own port, own config, own data directory). */
export interface MosquittoBroker extends TestBroker {
  readonly port: number;
  /** Kill it (SIGKILL by default, to model a crash) and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start it again on the same port with the same data directory. */
  restart(): Promise<void>;
}

async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = netConnect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a private mosquitto on a free port. Defaults suit an ack-after-commit bridge: persistence on,
 * no queue limit (the machine's defaults DROP beyond 1000 queued messages).
 */
export async function startMosquitto(extraConfig: string[] = []): Promise<MosquittoBroker> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "veep-mosq-"));
  // Started as root, mosquitto drops to the `mosquitto` user, which must write its persistence file here.
  await chmod(dir, 0o777);
  const config = [
    `listener ${port} 127.0.0.1`,
    "allow_anonymous true",
    "persistence true",
    `persistence_location ${dir}/`,
    "autosave_interval 1",
    "max_queued_messages 0",
    "max_inflight_messages 20",
    "log_dest none",
    ...extraConfig,
  ];
  const configPath = join(dir, "mosquitto.conf");
  await writeFile(configPath, `${config.join("\n")}\n`);
  let child: ReturnType<typeof spawn> | undefined;
  const launch = async (): Promise<void> => {
    child = spawn("mosquitto", ["-c", configPath], { stdio: "ignore" });
    await waitForPort(port);
  };
  const kill = async (signal: NodeJS.Signals = "SIGKILL"): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
    running.kill(signal);
    await exited;
  };
  await launch();
  return {
    name: "mosquitto (own)",
    url: `mqtt://127.0.0.1:${port}`,
    port,
    mqtt5: true,
    kill,
    restart: launch,
    async stop() {
      await kill("SIGTERM");
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The broker of `MQTT_URL` when the suite runs against the machine's broker, else `undefined`. */
export function machineBroker(): TestBroker | undefined {
  if (inject("mqttEmbedded")) return undefined;
  return { name: "MQTT_URL", url: inject("mqttUrl"), mqtt5: true, stop: async () => {} };
}

/** A TCP proxy in front of a broker, able to cut every connection (a network failure) and count keepalives. */
export interface CuttableProxy {
  readonly url: string;
  /** PINGREQ packets seen going to the broker (2-byte frames `C0 00`). */
  readonly pingreqs: number;
  readonly port: number;
  /** Destroy every open connection through the proxy. */
  cut(): void;
  /** Cut every connection and refuse new ones for `ms` milliseconds (the server is unreachable). */
  down(ms: number): void;
  close(): Promise<void>;
}

/** Starts a proxy to the host and port of `targetUrl` (any scheme: mqtt://, postgres://). */
export async function startProxy(targetUrl: string): Promise<CuttableProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let pingreqs = 0;
  let downUntil = 0;
  const server = createServer((downstream) => {
    if (Date.now() < downUntil) {
      downstream.destroy();
      return;
    }
    const upstream = netConnect(Number(target.port), target.hostname);
    sockets.add(downstream);
    sockets.add(upstream);
    downstream.on("data", (chunk: Buffer) => {
      if (chunk.length === 2 && chunk[0] === 0xc0 && chunk[1] === 0) pingreqs++;
    });
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    const end = (): void => {
      downstream.destroy();
      upstream.destroy();
      sockets.delete(downstream);
      sockets.delete(upstream);
    };
    downstream.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const cut = (): void => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    get pingreqs() {
      return pingreqs;
    },
    cut,
    down(ms) {
      downUntil = Date.now() + ms;
      cut();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
