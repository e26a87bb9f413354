import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { MOSQUITTO_MISSING, mosquittoInstalled, mosquittoRequired } from "../../support/mosquitto.js";

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

/**
 * aedes 1.2.0 with its memory persistence loses QoS 1 messages of a persistent session when the client
 * reconnects while messages are being published. Its queue matches a PUBACK to a message by packet id
 * alone, and each new connection numbers deliveries from a random id, so ids collide with messages still
 * queued from the previous connection: a PUBACK can remove another message than the one acknowledged
 * (which is then sent again later), and a delivery its duplicate check skips clears the first queued
 * message without an id (which is then never sent). Reproduced with a raw MQTT client and no bridge:
 * 100 of 10,000 messages lost in one of 14 runs of 20 reconnects each; in this test, runs of up to
 * 1,200 contiguous messages that no bridge ever received.
 */
export const AEDES_LOSS =
  "aedes 1.2.0 (memory persistence) drops queued QoS 1 messages when a persistent session reconnects under load";
const noticed = new Set<string>();

/** Prints, once per process and `what`, that `what` is skipped and why. */
export function skipNotice(what: string, why: string): void {
  const line = `skipping ${what}: ${why}`;
  if (noticed.has(line)) return;
  noticed.add(line);
  console.warn(line);
}

/**
 * Whether tests that start a mosquitto of their own run: the one place that decides it. `true` when
 * the binary is installed, and always under VEEP_REQUIRE_MOSQUITTO=1 (a missing binary then fails the run
 * in global setup, and {@link startMosquitto} throws). Otherwise prints a notice naming `what` is skipped.
 */
export function hasMosquitto(what = "the tests that start a mosquitto of their own"): boolean {
  if (mosquittoInstalled() || mosquittoRequired()) return true;
  skipNotice(what, `${MOSQUITTO_MISSING}; set VEEP_REQUIRE_MOSQUITTO=1 to make this a failure`);
  return false;
}

/** A mosquitto process of our own (own port, own config, own data directory). */
export interface MosquittoBroker extends TestBroker {
  readonly port: number;
  /** Kill it (SIGKILL by default, to model a crash) and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start it again on the same port with the same data directory. */
  restart(): Promise<void>;
  /** Sends `signal` to the running process (e.g. SIGHUP: reload the password and ACL files). */
  signal(signal: NodeJS.Signals): Promise<void>;
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
  if (!mosquittoInstalled()) throw new Error(`cannot start mosquitto: ${MOSQUITTO_MISSING}`);
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
    const started = spawn("mosquitto", ["-c", configPath], { stdio: "ignore" });
    child = started;
    const failed = new Promise<never>((_, reject) => {
      started.once("error", reject);
      started.once("exit", (code, signal) =>
        reject(new Error(`mosquitto exited at start (code ${code}, signal ${signal}), config ${configPath}`)),
      );
    });
    failed.catch(() => {});
    await Promise.race([waitForPort(port), failed]);
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
    async signal(signal) {
      child?.kill(signal);
    },
    async stop() {
      await kill("SIGTERM");
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A mosquitto of our own that admits only the users of its password file, within its ACL. */
export interface AuthMosquitto extends MosquittoBroker {
  /** Sets (or adds) `user`'s password in the password file; a running broker rereads it (SIGHUP). */
  setPassword(user: string, password: string): Promise<void>;
}

/**
 * Starts {@link startMosquitto} with `allow_anonymous false`, a `password_file` of `users` (made with
 * `mosquitto_passwd`) and an `acl_file` of `acl` lines (`user NAME`, `topic read|write|readwrite FILTER`).
 */
export async function startMosquittoWithAuth(
  users: Readonly<Record<string, string>>,
  acl: readonly string[],
): Promise<AuthMosquitto> {
  const dir = await mkdtemp(join(tmpdir(), "veep-mosq-auth-"));
  const passwords = join(dir, "passwd");
  const aclFile = join(dir, "acl");
  // Started as root, mosquitto drops to the `mosquitto` user, which must read both files.
  await chmod(dir, 0o755);
  let created = false;
  const setPassword = async (user: string, password: string): Promise<void> => {
    execFileSync("mosquitto_passwd", ["-b", ...(created ? [] : ["-c"]), passwords, user, password], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    created = true;
    await chmod(passwords, 0o644);
  };
  let broker: MosquittoBroker;
  try {
    for (const [user, password] of Object.entries(users)) await setPassword(user, password);
    await writeFile(aclFile, `${acl.join("\n")}\n`, { mode: 0o644 });
    broker = await startMosquitto([
      "allow_anonymous false",
      `password_file ${passwords}`,
      `acl_file ${aclFile}`,
    ]);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...broker,
    name: "mosquitto (own, password file and ACL)",
    async setPassword(user, password) {
      await setPassword(user, password);
      await broker.signal("SIGHUP");
    },
    async stop() {
      await broker.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A mosquitto with the dynamic security plugin, see {@link startMosquittoWithSubscribeAcl}. */
export interface DynamicSecurityMosquitto extends MosquittoBroker {
  /** Runs `mosquitto_ctrl dynsec ARGS` as its admin (e.g. `removeRoleACL subscriber …`). */
  dynsec(...args: string[]): void;
}

const DYNAMIC_SECURITY_PLUGINS = [
  "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
  "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
  "/usr/lib/mosquitto_dynamic_security.so",
  "/usr/local/lib/mosquitto_dynamic_security.so",
];

function dynamicSecurityPlugin(): string | undefined {
  return DYNAMIC_SECURITY_PLUGINS.find((path) => existsSync(path));
}

/**
 * Whether the tests needing mosquitto's dynamic security plugin (mosquitto 2: the plugin and
 * `mosquitto_ctrl`) run; decided like {@link hasMosquitto}: always under VEEP_REQUIRE_MOSQUITTO=1 (a
 * missing piece then fails them), else skipped with a notice naming `what`.
 */
export function hasDynamicSecurity(what: string): boolean {
  if (!hasMosquitto(what)) return false;
  const ctrl = spawnSync("mosquitto_ctrl", ["--help"], { stdio: "ignore" }).error === undefined;
  if ((ctrl && dynamicSecurityPlugin() !== undefined) || mosquittoRequired()) return true;
  skipNotice(what, "no mosquitto dynamic security plugin or no `mosquitto_ctrl` (mosquitto 2 has both)");
  return false;
}

/**
 * Starts {@link startMosquitto} with the dynamic security plugin (mosquitto 2), whose ACLs also govern
 * subscriptions: a SUBSCRIBE outside them is answered with a SUBACK failure code (0x80 on MQTT 3.1.1,
 * 0x87 on MQTT 5). mosquitto's `acl_file` cannot do that: it grants every subscription and drops what
 * the ACL denies at delivery. `user` may subscribe to `filter` only.
 */
export async function startMosquittoWithSubscribeAcl(
  user: string,
  password: string,
  filter: string,
): Promise<DynamicSecurityMosquitto> {
  const plugin = dynamicSecurityPlugin();
  if (plugin === undefined) {
    throw new Error(`no mosquitto dynamic security plugin in ${DYNAMIC_SECURITY_PLUGINS.join(", ")}`);
  }
  const dir = await mkdtemp(join(tmpdir(), "veep-mosq-dynsec-"));
  const config = join(dir, "dynamic-security.json");
  const admin = ["admin", randomBytes(12).toString("hex")] as const;
  const quiet: { stdio: ["ignore", "ignore", "pipe"] } = { stdio: ["ignore", "ignore", "pipe"] };
  let broker: MosquittoBroker | undefined;
  const ctrl = (...args: string[]): void => {
    execFileSync(
      "mosquitto_ctrl",
      ["-h", "127.0.0.1", "-p", String(broker!.port), "-u", admin[0], "-P", admin[1], "dynsec", ...args],
      quiet,
    );
  };
  try {
    execFileSync("mosquitto_ctrl", ["dynsec", "init", config, ...admin], quiet);
    // Started as root, mosquitto drops to the `mosquitto` user, which rewrites the file on every change.
    await chmod(dir, 0o777);
    await chmod(config, 0o666);
    broker = await startMosquitto([`plugin ${plugin}`, `plugin_opt_config_file ${config}`]);
    ctrl("createClient", user, "-p", password);
    ctrl("createRole", "subscriber");
    ctrl("addRoleACL", "subscriber", "subscribePattern", filter, "allow", "5");
    ctrl("addClientRole", user, "subscriber");
  } catch (error) {
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const started = broker;
  return {
    ...started,
    name: "mosquitto (own, dynamic security)",
    dynsec: ctrl,
    async stop() {
      await started.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The broker of `MQTT_URL` when the suite runs against the machine's broker, else `undefined` (with a
 * notice naming `what` is skipped, when given). Global setup has checked that it answers.
 */
export function machineBroker(what?: string): TestBroker | undefined {
  if (inject("mqttEmbedded")) {
    if (what !== undefined) skipNotice(what, "MQTT_URL is not set (the machine's broker is not in this run)");
    return undefined;
  }
  return { name: "MQTT_URL", url: inject("mqttUrl"), mqtt5: true, stop: async () => {} };
}

/** A mosquitto to test against, and how to get it. */
export interface MosquittoTarget {
  readonly name: string;
  start(): Promise<TestBroker>;
}

/**
 * A mosquitto for `what`: the machine's (`MQTT_URL`) when set, else one of our own; `undefined` (after a
 * notice) only when neither is there and VEEP_REQUIRE_MOSQUITTO is not set.
 */
export function mosquittoTarget(what: string): MosquittoTarget | undefined {
  const machine = machineBroker();
  if (machine !== undefined) return { name: machine.name, start: async () => machine };
  if (!hasMosquitto(what)) return undefined;
  return { name: "mosquitto (own)", start: () => startMosquitto() };
}

/** A TCP proxy in front of a broker, able to cut every connection (a network failure) and count keepalives. */
export interface CuttableProxy {
  readonly url: string;
  /** PINGREQ packets seen going to the broker (2-byte frames `C0 00`). */
  readonly pingreqs: number;
  /** Bytes passed on from clients to the broker, over every connection. */
  readonly bytesToBroker: number;
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
  let bytesToBroker = 0;
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
      bytesToBroker += chunk.length;
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
    get bytesToBroker() {
      return bytesToBroker;
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
