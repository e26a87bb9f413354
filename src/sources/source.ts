/**
 * One message handed over by a {@link Source}.
 *
 * @remarks Contract: the bridge calls {@link SourceMessage.ack} only after the store committed the
 * message (or recorded its rejection, or recognised it as a duplicate), and in the order the
 * messages were delivered. A message never acknowledged must be delivered again by the source
 * (for MQTT: the broker redelivers it on the next session).
 */
export interface SourceMessage {
  /** Topic the message arrived on. */
  readonly topic: string;
  /** Raw payload bytes, unchanged. */
  readonly payload: Uint8Array;
  /** When the source received it. */
  readonly receivedAt: Date;
  /** Delivery QoS when the transport has one (MQTT 0, 1 or 2). */
  readonly qos?: 0 | 1 | 2;
  /** `true` for an MQTT retained message. */
  readonly retained?: boolean;
  /** `true` when the transport flags this as a redelivery (MQTT DUP). */
  readonly redelivered?: boolean;
  /** Acknowledge to the transport. Idempotent; a no-op for transports without acknowledgements. */
  ack(): void;
}

/** A change in a source's connection, surfaced as the bridge's `source` event. */
export interface SourceStatus {
  /** What happened. */
  readonly state: "online" | "offline" | "reconnecting" | "error";
  /** The underlying error for `error` (and sometimes `offline`). */
  readonly error?: Error;
  /** Free-form detail (e.g. broker address, reconnect attempt). */
  readonly detail?: string;
}

/** What a source calls while it runs. */
export interface SourceHandlers {
  /** Deliver one message. Called in arrival order; never throws back into the source. */
  message(message: SourceMessage): void;
  /** Report a connection change or a non-fatal error. */
  status(status: SourceStatus): void;
}

/** Arguments of {@link Source.start}. */
export interface SourceStartContext {
  /** Subscription filter derived from the bridge's topic pattern, e.g. `veep/+/+/+/data`. */
  readonly topicFilter: string;
  /** Where to deliver messages and status changes. */
  readonly handlers: SourceHandlers;
}

/**
 * Where messages come from (an MQTT subscription, a memory queue, …).
 *
 * @remarks Contract, checked by `sourceConformance` from `veep-bridge/testing`:
 * 1. `start` resolves once the source is subscribed and delivering; it is called once: a second
 *    call rejects with a `LifecycleError` of code `ALREADY_STARTED`.
 * 2. Messages are delivered through `handlers.message` in arrival order.
 * 3. A message is settled only by its `ack()`; the bridge calls it after commit, in delivery order.
 *    Messages not acknowledged before `stop()` (or a crash, or a lost connection) are delivered
 *    again later: at-least-once. Acknowledging twice is harmless.
 * 4. `pause()` stops delivery as soon as the transport allows (messages already in flight may
 *    still arrive); `resume()` restarts it; nothing is dropped either way.
 * 5. `stop()` stops delivery and releases every resource; it is idempotent. Acknowledgements
 *    requested after `stop()` are ignored.
 */
export interface Source {
  /** Short name for logs and events, e.g. `"mqtt"`. */
  readonly name: string;
  /**
   * Hint: how many unacknowledged messages the transport delivers at most (a broker's in-flight
   * window). The bridge's write buffer commits at least this often so acknowledgements never stall
   * the transport. Omit when unknown.
   */
  readonly maxInFlight?: number;
  /**
   * Who this source is, the same across restarts (an MQTT client id): the bridge's default
   * `batch.owner`. Omit when the source has no such identity.
   */
  readonly instanceId?: string;
  /** Subscribe and begin delivering messages. */
  start(context: SourceStartContext): Promise<void>;
  /** Stop delivering (flow control); idempotent. */
  pause(): void;
  /** Resume delivering after {@link Source.pause}; idempotent. */
  resume(): void;
  /** Stop delivering and release resources; idempotent. */
  stop(): Promise<void>;
}
