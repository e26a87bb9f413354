import { connect, type IPublishPacket, type MqttClient } from "mqtt";
import { LifecycleError, SourceError } from "../../errors.js";
import type { Source, SourceHandlers, SourceMessage, SourceStartContext, SourceStatus } from "../source.js";
import { toClientOptions } from "./client-options.js";
import {
  assertTopicFilter,
  type MqttSourceOptions,
  type ResolvedMqttSourceOptions,
  redactUrl,
  resolveMqttSourceOptions,
} from "./options.js";
import { installPubackInterceptor, type PubackInterceptor } from "./puback-interceptor.js";

/**
 * A {@link Source} reading an MQTT subscription, returned by {@link mqttSource}.
 *
 * @remarks Beyond the `Source` contract it exposes what it is connected as, and supports `await using`.
 */
export interface MqttSource extends Source {
  /** `"mqtt"`. */
  readonly name: "mqtt";
  /** The broker's in-flight window (option `maxInFlight`): the bridge commits at least this often. */
  readonly maxInFlight: number;
  /** The client identifier the session is bound to. */
  readonly clientId: string;
  /** The filter actually subscribed (with `$share/<group>/` when shared); `undefined` before `start`. */
  readonly subscription: string | undefined;
  /** QoS 1 messages received whose PUBACK is held until `ack()` (on the current connection). */
  readonly heldAcks: number;
  /** Messages received while paused, waiting for `resume()`. */
  readonly pausedBacklog: number;
  /** Same as {@link Source.stop}. */
  [Symbol.asyncDispose](): Promise<void>;
}

class MqttSubscriptionSource implements MqttSource {
  readonly name = "mqtt" as const;
  readonly clientId: string;
  readonly maxInFlight: number;
  subscription: string | undefined;
  readonly #options: ResolvedMqttSourceOptions;
  #client: MqttClient | undefined;
  #interceptor: PubackInterceptor | undefined;
  #handlers: SourceHandlers | undefined;
  #paused = false;
  #parked = false;
  #backlog: SourceMessage[] = [];
  #stopping: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #reconnectDelayMs: number;

  constructor(options: ResolvedMqttSourceOptions) {
    this.#options = options;
    this.clientId = options.clientId;
    this.maxInFlight = options.maxInFlight;
    this.#reconnectDelayMs = options.reconnectMinDelayMs;
  }

  get heldAcks(): number {
    return this.#interceptor?.held ?? 0;
  }

  get pausedBacklog(): number {
    return this.#backlog.length;
  }

  async start(context: SourceStartContext): Promise<void> {
    if (this.#stopping)
      throw new LifecycleError("STOPPED", "This MQTT source was stopped; create a new one.");
    if (this.#client) throw new LifecycleError("ALREADY_STARTED", "This MQTT source is already started.");
    const filter = this.#options.topic ?? context.topicFilter;
    assertTopicFilter(this.#options.topic === undefined ? "topicFilter" : "topic", filter);
    const group = this.#options.sharedGroup;
    this.subscription = group === undefined ? filter : `$share/${group}/${filter}`;
    this.#handlers = context.handlers;
    const client = connect(this.#options.url, toClientOptions(this.#options));
    // Throws (before any connection exists) if this MQTT.js lacks the internals the interception needs.
    this.#interceptor = installPubackInterceptor(
      client,
      (packet, ack) => this.#receive(packet, ack),
      (error) => this.#status({ state: "error", error }),
    );
    this.#client = client;
    this.#wire(client);
    try {
      await this.#firstConnection(client);
      const granted = await client.subscribeAsync(this.subscription, { qos: this.#options.qos });
      const refused = granted.find((grant) => grant.qos > 2);
      if (refused !== undefined) {
        throw new SourceError(
          `The broker refused the subscription to "${this.subscription}" (code ${refused.qos}).`,
        );
      }
    } catch (error) {
      await this.stop();
      throw error instanceof SourceError || error instanceof LifecycleError
        ? error
        : new SourceError(`Could not subscribe to "${this.subscription}"`, { cause: error });
    }
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    const held = this.#backlog;
    this.#backlog = [];
    for (let i = 0; i < held.length; i++) {
      if (this.#stopping !== undefined) return;
      if (this.#paused) {
        // Paused again by a handler: keep the rest, in order, ahead of anything newer.
        this.#backlog = held.slice(i).concat(this.#backlog);
        return;
      }
      this.#deliver(held[i]!);
    }
    if (!this.#paused && this.#parked && this.#stopping === undefined) {
      this.#parked = false;
      this.#client?.reconnect();
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#close();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #close(): Promise<void> {
    this.#abort.abort();
    this.#backlog = []; // never acknowledged: redelivered by the broker on the next session
    // Keep the interception while the connection closes: a PUBLISH still arriving must not be acknowledged.
    this.#interceptor?.discardAll();
    const client = this.#client;
    if (client === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.endAsync(false),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 2000);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    if (!client.disconnected) await client.endAsync(true);
    this.#interceptor?.uninstall();
  }

  #receive(packet: IPublishPacket, ack: (() => void) | undefined): void {
    if (this.#stopping !== undefined) return;
    let settled = false;
    const message: SourceMessage = {
      topic: packet.topic,
      payload: packet.payload instanceof Uint8Array ? packet.payload : Buffer.from(packet.payload),
      receivedAt: new Date(),
      qos: packet.qos,
      retained: packet.retain === true,
      redelivered: packet.dup === true,
      ack: () => {
        if (settled || this.#stopping !== undefined) return;
        settled = true;
        ack?.();
      },
    };
    if (!this.#paused) {
      this.#deliver(message);
      return;
    }
    this.#backlog.push(message);
    if (this.#backlog.length >= this.#options.maxPausedMessages && !this.#parked) this.#park();
  }

  /**
   * Paused with a full buffer: leave the broker (the persistent session keeps queuing for us) rather than
   * buffer without bound. Held PUBACKs of this connection are void; the broker redelivers those messages.
   */
  #park(): void {
    this.#parked = true;
    this.#status({
      state: "offline",
      detail: `paused with ${this.#backlog.length} messages buffered: disconnected until resume (session kept)`,
    });
    this.#client?.end(false);
  }

  #deliver(message: SourceMessage): void {
    try {
      this.#handlers?.message(message);
    } catch (error) {
      this.#status({ state: "error", error: new SourceError("The message handler threw", { cause: error }) });
    }
  }

  #status(status: SourceStatus): void {
    try {
      this.#handlers?.status(status);
    } catch {
      // A status listener must not break the connection.
    }
  }

  #wire(client: MqttClient): void {
    const where = redactUrl(this.#options.url);
    client.on("connect", (connack) => {
      this.#reconnectDelayMs = this.#options.reconnectMinDelayMs;
      client.options.reconnectPeriod = this.#reconnectDelayMs;
      const session = connack.sessionPresent ? "session resumed" : "new session";
      this.#status({ state: "online", detail: `${where} as ${this.clientId} (${session})` });
    });
    client.on("offline", () => this.#status({ state: "offline", detail: where }));
    client.on("disconnect", (packet) => {
      // MQTT 5 server DISCONNECT, e.g. 142 "session taken over" when another client uses this clientId.
      const reason = packet.reasonCode ?? 0;
      this.#status({
        state: "offline",
        detail: `${where}: the broker disconnected us (reason code ${reason})`,
      });
    });
    let attempt = 0;
    client.on("connect", () => {
      attempt = 0;
    });
    client.on("reconnect", () => {
      attempt++;
      this.#status({ state: "reconnecting", detail: `${where}, attempt ${attempt}` });
      this.#reconnectDelayMs = Math.min(this.#reconnectDelayMs * 2, this.#options.reconnectMaxDelayMs);
      client.options.reconnectPeriod = this.#reconnectDelayMs;
    });
    client.on("error", (error) => {
      this.#status({
        state: "error",
        error: new SourceError(`MQTT ${where}: ${error.message}`, { cause: error }),
      });
    });
  }

  #firstConnection(client: MqttClient): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        client.off("connect", onConnect);
        client.off("error", onError);
        this.#abort.signal.removeEventListener("abort", onAbort);
      };
      const onAbort = (): void => {
        cleanup();
        reject(new LifecycleError("STOPPED", "The MQTT source was stopped while connecting."));
      };
      const onConnect = (): void => {
        cleanup();
        resolve();
      };
      const onError = (error: Error & { code?: unknown }): void => {
        // A refused CONNACK (bad credentials, rejected id, …) carries a numeric reason code: do not retry it.
        if (typeof error.code === "number") {
          cleanup();
          reject(new SourceError(`The broker refused the connection: ${error.message}`, { cause: error }));
          return;
        }
        // An untrusted or mismatched certificate will not become trusted by retrying.
        if (typeof error.code === "string" && TLS_VERIFICATION_ERROR.test(error.code)) {
          cleanup();
          reject(
            new SourceError(
              `The broker's TLS certificate was not accepted (${error.code}: ${error.message}); pass its CA as tls.ca`,
              { cause: error },
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new SourceError(
            `No connection to ${redactUrl(this.#options.url)} within ${this.#options.connectTimeoutMs} ms`,
          ),
        );
      }, this.#options.connectTimeoutMs);
      client.on("connect", onConnect);
      client.on("error", onError);
      this.#abort.signal.addEventListener("abort", onAbort);
      client.connect();
    });
  }
}

/** Node's codes for a failed certificate verification (self-signed, unknown issuer, expired, wrong name). */
const TLS_VERIFICATION_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS/;

/**
 * Creates an MQTT {@link Source}: a persistent QoS 1 subscription whose PUBACKs are sent only when the bridge
 * acknowledges each message (after the store's COMMIT), in arrival order.
 *
 * @remarks
 * - At-least-once: a message not acknowledged before a crash, `stop()` or a dropped connection is redelivered
 *   by the broker (persistent session: fixed `clientId`, `clean: false`); the store de-duplicates by hash.
 * - QoS 0 messages (`qos: 0`, or published at QoS 0) have no acknowledgement: `ack()` is a no-op, and they
 *   are at-most-once.
 * - Retained messages are delivered like any other, with `retained: true`; the broker re-sends them on each
 *   new subscription, and the store recognises the copy by its hash.
 * - `pause()` holds new deliveries in memory until `resume()`. Once `maxPausedMessages` are held, the source
 *   disconnects (the persistent session keeps queuing at the broker) and reconnects on `resume()`; nothing is
 *   acknowledged or dropped meanwhile.
 *
 * @param options - connection and subscription settings, validated here
 * @throws an `InvalidOptionError` naming the first invalid option
 * @example
 * ```ts
 * import { createBridge } from "veep-bridge";
 * import { mqttSource } from "veep-bridge/mqtt";
 * const source = mqttSource({ url: process.env.MQTT_URL, clientId: "veep-bridge-1" });
 * const bridge = createBridge({ source, store, topic: "veep/{tenant}/{site}/{device}/data" });
 * ```
 */
export function mqttSource(options: MqttSourceOptions = {}): MqttSource {
  return new MqttSubscriptionSource(resolveMqttSourceOptions(options));
}
