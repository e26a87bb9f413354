import { InvalidOptionError, LifecycleError } from "../../errors.js";
import { integerOption } from "../../validation.js";
import type { Source, SourceMessage, SourceStartContext } from "../source.js";

interface QueuedMessage {
  readonly seq: number;
  readonly topic: string;
  readonly payload: Uint8Array;
  delivered: boolean;
}

/**
 * The broker-side state of a {@link memorySource}: messages waiting and messages delivered but not
 * yet acknowledged. Share it between source instances to simulate a persistent session: what one
 * instance did not acknowledge, the next one receives again (flagged `redelivered`).
 */
export interface MemorySourceSession {
  /** Messages not yet acknowledged, in publish order (delivered or not). */
  readonly unacknowledged: number;
  /** Messages acknowledged so far. */
  readonly acknowledged: number;
}

/** Options of {@link memorySource}. */
export interface MemorySourceOptions {
  /**
   * Session to continue (from another instance's `session`).
   * @defaultValue a new empty session
   */
  readonly session?: MemorySourceSession;
  /**
   * Most messages delivered and not yet acknowledged at once, like a broker's in-flight window.
   * @defaultValue 100
   */
  readonly maxInFlight?: number;
}

/** The in-memory {@link Source}: publish messages into it from a test or a simulator. */
export interface MemorySource extends Source {
  /** Its session (share it with a new instance to simulate a reconnect with a persistent session). */
  readonly session: MemorySourceSession;
  /**
   * Queues a message for delivery. Objects are JSON-encoded; strings are UTF-8 encoded.
   * Publishing is allowed before `start()` and after `stop()` (the message waits in the session).
   */
  publish(topic: string, payload: Uint8Array | string | object): void;
  /** Resolves when every published message has been acknowledged. */
  whenAllAcknowledged(): Promise<void>;
}

class SessionState implements MemorySourceSession {
  /** Not yet delivered, in publish order, from `head` on. */
  pending: QueuedMessage[] = [];
  head = 0;
  /** Delivered, not yet acknowledged (insertion-ordered by delivery). */
  readonly inFlight = new Map<number, QueuedMessage>();
  nextSeq = 0;
  acknowledged = 0;
  waiters: Array<() => void> = [];

  get unacknowledged(): number {
    return this.pending.length - this.head + this.inFlight.size;
  }

  /** Puts every delivered-but-unacknowledged message back in front of the pending ones. */
  requeueInFlight(): Set<number> {
    const again = [...this.inFlight.values()].sort((a, b) => a.seq - b.seq);
    this.inFlight.clear();
    for (const m of again) m.delivered = false;
    this.pending = [...again, ...this.pending.slice(this.head)];
    this.head = 0;
    return new Set(again.map((m) => m.seq));
  }

  take(): QueuedMessage | undefined {
    const next = this.pending[this.head];
    if (!next) return undefined;
    this.pending[this.head] = undefined as unknown as QueuedMessage;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    next.delivered = true;
    this.inFlight.set(next.seq, next);
    return next;
  }

  settle(seq: number): boolean {
    if (!this.inFlight.delete(seq)) return false;
    this.acknowledged++;
    if (this.unacknowledged === 0) for (const wake of this.waiters.splice(0)) wake();
    return true;
  }
}

const encoder = new TextEncoder();

/**
 * Creates an in-memory {@link Source}. Delivery is asynchronous, in publish order, bounded by
 * `maxInFlight`; unacknowledged messages are redelivered to the next instance sharing the session.
 *
 * @example
 * ```ts
 * const source = memorySource();
 * source.publish("veep/factory1/line2/SENSOR_001/data", { deviceId: "SENSOR_001", kwh: 1.5 });
 * ```
 */
export function memorySource(options: MemorySourceOptions = {}): MemorySource {
  const maxInFlight = integerOption("maxInFlight", options.maxInFlight, 100);
  const given = options.session;
  if (given !== undefined && !(given instanceof SessionState)) {
    throw new InvalidOptionError("session", "expected another memorySource's `session`");
  }
  const session = given ?? new SessionState();
  // Messages delivered by an earlier instance but never acknowledged go out again, flagged redelivered.
  const redeliver = session.requeueInFlight();
  let context: SourceStartContext | undefined;
  let paused = false;
  let stopped = false;
  let inFlight = 0;
  let scheduled = false;
  // Like a broker connection, a started source keeps the process alive until it is stopped.
  let keepAlive: ReturnType<typeof setInterval> | undefined;

  const pump = (): void => {
    scheduled = false;
    if (!context || paused || stopped) return;
    while (inFlight < maxInFlight && !paused && !stopped) {
      const queued = session.take();
      if (!queued) break;
      inFlight++;
      let acked = false;
      const message: SourceMessage = {
        topic: queued.topic,
        payload: queued.payload,
        receivedAt: new Date(),
        qos: 1,
        retained: false,
        redelivered: redeliver.delete(queued.seq),
        ack: () => {
          if (acked || stopped) return;
          acked = true;
          inFlight--;
          session.settle(queued.seq);
          schedule();
        },
      };
      context.handlers.message(message);
    }
  };
  const schedule = (): void => {
    if (scheduled || !context || paused || stopped) return;
    scheduled = true;
    setImmediate(pump);
  };

  return {
    name: "memory",
    session,
    publish(topic, payload) {
      const bytes =
        payload instanceof Uint8Array
          ? payload
          : encoder.encode(typeof payload === "string" ? payload : JSON.stringify(payload));
      session.pending.push({ seq: session.nextSeq++, topic, payload: bytes, delivered: false });
      schedule();
    },
    whenAllAcknowledged() {
      if (session.unacknowledged === 0) return Promise.resolve();
      return new Promise((resolve) => session.waiters.push(resolve));
    },
    async start(startContext) {
      if (context) throw new LifecycleError("ALREADY_STARTED", "memory source already started");
      if (stopped) throw new LifecycleError("STOPPED", "memory source was stopped; create a new one");
      context = startContext;
      keepAlive = setInterval(() => {}, 1 << 30);
      startContext.handlers.status({ state: "online", detail: "memory" });
      schedule();
    },
    pause() {
      paused = true;
    },
    resume() {
      if (!paused) return;
      paused = false;
      schedule();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(keepAlive);
      context?.handlers.status({ state: "offline", detail: "stopped" });
    },
  };
}
