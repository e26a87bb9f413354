import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { Bridge } from "../index.js";
import { bridgeMetrics } from "../metrics/index.js";
import type { PostgresStoreOptions } from "../stores/postgres/index.js";
import { resolvePoolConfig } from "../stores/postgres/options.js";
import type { PgPoolLike } from "../stores/postgres/pg-types.js";
import { createPgPool } from "../stores/postgres/pool.js";
import { CliError } from "./cli-error.js";
import { EXIT } from "./exit-codes.js";

/** Where `run` serves `/metrics`, `/healthz` and `/readyz`. */
export interface MetricsEndpointConfig {
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Address to bind. */
  readonly host: string;
}

/** Default bind address of the metrics endpoint (every IPv4 interface, for a scraper elsewhere). */
export const DEFAULT_METRICS_HOST = "0.0.0.0";

/** How long `/readyz` waits for the database's answer before calling it unreachable. */
export const READY_TIMEOUT_MS = 2000;

/** A running metrics endpoint. */
export interface MetricsEndpoint {
  /** `http://host:port` it listens on. */
  readonly url: string;
  /** Stops listening, detaches the metrics and closes its database connection. */
  close(): Promise<void>;
}

/** What `/readyz` reports. */
export interface Readiness {
  /** `true` when the bridge runs, the broker is connected and the database answered. */
  readonly ready: boolean;
  /** The bridge's state. */
  readonly bridge: string;
  /** `online` or the source's last state. */
  readonly broker: string;
  /** `ok`, or why the database check failed. */
  readonly database: string;
}

function databaseCheck(postgres: PostgresStoreOptions, timeoutMs: number) {
  let pool: PgPoolLike | undefined;
  let running: Promise<string> | undefined;
  const probe = async (): Promise<string> => {
    pool ??= createPgPool(
      {
        ...resolvePoolConfig(postgres),
        max: 1,
        connectionTimeoutMillis: timeoutMs,
        idleTimeoutMillis: 60_000,
      },
      () => undefined,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
    });
    try {
      return await Promise.race([pool.query({ text: "SELECT 1" }).then(() => "ok"), timeout]);
    } catch (error) {
      return error instanceof Error && error.message ? error.message : "unreachable";
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    check(): Promise<string> {
      running ??= probe().finally(() => {
        running = undefined;
      });
      return running;
    },
    async close(): Promise<void> {
      await pool?.end().catch(() => undefined);
    },
  };
}

function listenError(error: NodeJS.ErrnoException, where: string): CliError {
  const why =
    error.code === "EADDRINUSE"
      ? "the port is in use (choose another with --metrics-port or VEEP_METRICS_PORT)"
      : error.code === "EACCES"
        ? "permission denied (ports below 1024 need privileges)"
        : error.code === "EADDRNOTAVAIL" || error.code === "ENOTFOUND"
          ? "no such local address (check --metrics-host)"
          : error.message;
  return new CliError(`cannot serve metrics on ${where}: ${why}`, EXIT.unavailable, { cause: error });
}

function send(response: ServerResponse, status: number, body: string, type: string, head: boolean): void {
  response.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  response.end(head ? undefined : body);
}

/**
 * Serves the bridge's Prometheus metrics (`bridgeMetrics` plus prom-client's process metrics) on
 * `/metrics`, liveness on `/healthz` (200 while the process runs) and readiness on `/readyz` (200
 * when the bridge runs, the broker is connected and the database answers `SELECT 1` within
 * {@link READY_TIMEOUT_MS}; otherwise 503). Call before `bridge.start()`.
 * @throws {@link CliError} (exit 3) when the address cannot be bound, e.g. the port is in use.
 */
export async function startMetricsEndpoint(
  bridge: Bridge,
  config: MetricsEndpointConfig,
  postgres: PostgresStoreOptions,
): Promise<MetricsEndpoint> {
  const registry = new Registry();
  const metrics = bridgeMetrics(bridge, { registry });
  collectDefaultMetrics({ register: registry });
  const database = databaseCheck(postgres, READY_TIMEOUT_MS);
  let broker = "connecting";
  const onSource = (status: { readonly state: string }): void => {
    if (status.state !== "error") broker = status.state;
  };
  bridge.on("source", onSource);

  const readiness = async (): Promise<Readiness> => {
    const db = await database.check();
    const ready = bridge.state === "running" && broker === "online" && db === "ok";
    return { ready, bridge: bridge.state, broker, database: db };
  };
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const head = request.method === "HEAD";
    if (request.method !== "GET" && !head) {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const path = (request.url ?? "/").split("?")[0];
    const json = "application/json; charset=utf-8";
    if (path === "/metrics") {
      send(response, 200, await registry.metrics(), registry.contentType, head);
    } else if (path === "/healthz") {
      send(response, 200, JSON.stringify({ status: "ok", bridge: bridge.state }), json, head);
    } else if (path === "/readyz") {
      const report = await readiness();
      send(response, report.ready ? 200 : 503, JSON.stringify(report), json, head);
    } else {
      send(response, 404, "not found: try /metrics, /healthz or /readyz\n", "text/plain", head);
    }
  };
  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500);
      response.end(error instanceof Error ? error.message : String(error));
    });
  });
  const detach = async (): Promise<void> => {
    bridge.off("source", onSource);
    metrics.dispose();
    registry.clear();
    await database.close();
  };
  const where = `${config.host}:${config.port}`;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port, config.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    await detach();
    throw listenError(error as NodeJS.ErrnoException, where);
  }
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    close() {
      closing ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await detach();
      })();
      return closing;
    },
  };
}
