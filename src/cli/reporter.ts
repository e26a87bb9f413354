import type { Bridge, BridgeEvents } from "../index.js";
import { printable } from "../message/text-limits.js";
import { formatStatus, messageRate, StatusLine } from "./status-line.js";

/** How `run` and `demo` report: a live line on a terminal, log lines, or JSON lines. */
export type ReportMode = "tty" | "plain" | "json";

/** Stops reporting. */
export interface Reporter {
  /** Prints a line the way the mode prints events. */
  log(event: string, message: string, fields?: Record<string, unknown>): void;
  /** Stops the timer and finishes the status line. */
  stop(): void;
  /** Prints nothing more (e.g. while an interrupted demo tears its servers down). */
  mute(): void;
}

/** `tty` when standard output is a terminal and `json` was not asked for. */
export function reportMode(json: boolean): ReportMode {
  if (json) return "json";
  return process.stdout.isTTY ? "tty" : "plain";
}

type Described = readonly [message: string, fields: Record<string, unknown>];

const DESCRIBE: { [K in keyof BridgeEvents]?: (...args: Parameters<BridgeEvents[K]>) => Described } = {
  started: () => ["bridge started", {}],
  stopped: () => ["bridge stopped", {}],
  source: (s) => [
    `source ${s.state}${s.detail ? ` (${s.detail})` : ""}${s.error ? `: ${s.error.message}` : ""}`,
    { state: s.state, detail: s.detail, error: s.error?.message },
  ],
  "batch:opened": (b) => [`batch ${b.batchId} ${b.resumed ? "resumed" : "opened"}`, { ...b }],
  "batch:sealed": (b) => [
    `sealed batch ${b.batchId}: ${b.messageCount} messages, root ${b.batchHash} (${b.reason})`,
    { ...b },
  ],
  "batch:failed": (b) => [`batch ${b.batchId} FAILED its integrity check: ${b.reason}`, { ...b }],
  rejected: (r) => [`rejected ${r.reason} on ${printable(r.topic)}: ${printable(r.detail)}`, { ...r }],
  retry: (r) => [
    `retrying ${r.operation} in ${r.delayMs} ms (attempt ${r.attempt}): ${r.error.message}`,
    { operation: r.operation, attempt: r.attempt, delayMs: r.delayMs, error: r.error.message },
  ],
  backpressure: (b) => [`backpressure: ${b.buffered}/${b.capacity} buffered, source paused`, { ...b }],
  drain: (b) => [`drained: ${b.buffered}/${b.capacity} buffered, source resumed`, { ...b }],
  error: (e) => [`error ${e.code}: ${e.message}`, { code: e.code, message: e.message }],
};

/**
 * Reports a bridge's events and counters: on a TTY one status line redrawn in place, otherwise one
 * plain line per event (and a counters line every `intervalMs`), or one JSON object per line.
 */
export function attachReporter(
  bridge: Bridge,
  mode: ReportMode,
  intervalMs = mode === "tty" ? 250 : 10_000,
): Reporter {
  const line = mode === "tty" ? new StatusLine(process.stdout) : undefined;
  let muted = false;
  const log = (event: string, message: string, fields: Record<string, unknown> = {}): void => {
    if (muted) return;
    if (mode === "json") {
      process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}\n`);
    } else if (line) {
      line.log(message);
    } else {
      process.stdout.write(`${new Date().toISOString()} ${message}\n`);
    }
  };
  for (const [event, describe] of Object.entries(DESCRIBE)) {
    bridge.on(event as keyof BridgeEvents, (...args: unknown[]) => {
      const [message, fields] = (describe as (...a: unknown[]) => Described)(...args);
      log(event, message, fields);
    });
  }
  let previous = { at: Date.now(), received: 0 };
  const tick = (): void => {
    const stats = bridge.stats();
    const now = Date.now();
    const rate = messageRate(previous.received, stats.received, now - previous.at);
    previous = { at: now, received: stats.received };
    const text = formatStatus(stats, rate);
    if (line) line.update(text);
    else
      log("stats", text, {
        ...stats,
        lastSealed: stats.lastSealed?.batchId,
        ratePerSecond: Math.round(rate),
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    log,
    stop() {
      clearInterval(timer);
      if (muted) return;
      tick();
      line?.finish();
    },
    mute() {
      clearInterval(timer);
      line?.finish();
      muted = true;
    },
  };
}
