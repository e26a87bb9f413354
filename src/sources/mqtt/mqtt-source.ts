import { connect, type IPublishPacket, type MqttClient } from "mqtt";
import { LifecycleError, SourceError, type SourceErrorCode } from "../../errors.js";
import type { Source, SourceHandlers, SourceMessage, SourceStartContext, SourceStatus } from "../source.js";
import { toClientOptions } from "./client-options.js";
import { connackRefusal, isProtocolRefusal, isUnsupportedProtocol } from "./connack.js";
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
  /**
   * The broker's in-flight window as far as the source knows it: `receiveMaximum` on MQTT 5, the
   * `maxInFlight` option on MQTT 3.1.1. The bridge commits as soon as that many messages wait.
   */
  readonly maxInFlight: number;
  /** The client identifier the session is bound to. */
  readonly clientId: string;
  /** The protocol version in use (after `"auto"` negotiated it), `undefined` before `start`. */
  readonly protocolVersion: 4 | 5 | undefined;
  /** The filter actually subscribed (with `$share/<group>/` when shared); `undefined` before `start`. */
  readonly subscription: string | undefined;
  /** QoS 1 messages received whose PUBACK is held until `ack()` (on the current connection). */
  readonly heldAcks: number;
  /** `true` while paused with the connection stalled (it has stopped reading from the broker). */
  readonly stalled: boolean;
  /** Same as {@link Source.stop}. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Node's codes for a failed certificate verification (self-signed, unknown issuer, expired, wrong name). */
const TLS_VERIFICATION_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS/;

/**
 * The SUBACK failure code (bit 0x80 set) of a rejected `subscribeAsync`: MQTT.js rejects with the SUBACK
 * packet attached (`packet.granted`), older versions with the code itself as `code`.
 */
function subackFailure(error: unknown): number | undefined {
  const { code, packet } = (error ?? {}) as { code?: unknown; packet?: { granted?: unknown } };
  const codes = [code, ...(Array.isArray(packet?.granted) ? packet.granted : [])];
  return codes.find((c): c is number => typeof c === "number" && (c & 0x80) !== 0);
}

function subscriptionRefused(filter: string, code: number, cause?: unknown): SourceError {
  return new SourceError(
    `The broker refused the subscription to "${filter}" (SUBACK code 0x${code.toString(16)}); check its ACL for this user.`,
    { code: "SUBSCRIPTION_REFUSED", ...(cause === undefined ? {} : { cause }) },
  );
}

class MqttSubscriptionSource implements MqttSource {
  readonly name = "mqtt" as const;
  readonly clientId: string;
  subscription: string | undefined;
  protocolVersion: 4 | 5 | undefined;
  readonly #options: ResolvedMqttSourceOptions;
  #client: MqttClient | undefined;
  #interceptor: PubackInterceptor | undefined;
  #handlers: SourceHandlers | undefined;
  #paused = false;
  /** Connecting with MQTT 5 under `"auto"`: a protocol refusal then means "fall back", not an error. */
  #negotiating = false;
  #keepalive: NodeJS.Timeout | undefined;
  #aliveAt = 0;
  #stopping: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #reconnectDelayMs: number;
  /** The first SUBSCRIBE succeeded: a later SUBACK failure is MQTT.js resubscribing after a reconnection. */
  #subscribed = false;

  constructor(options: ResolvedMqttSourceOptions) {
    this.#options = options;
    this.clientId = options.clientId;
    this.#reconnectDelayMs = options.reconnectMinDelayMs;
  }

  /** The client id: the bridge's batches are stored under it (`batch.owner`). */
  get instanceId(): string {
    return this.clientId;
  }

  get maxInFlight(): number {
    return this.protocolVersion === 4 || this.#options.protocolVersion === 4
      ? this.#options.maxInFlight
      : this.#options.receiveMaximum;
  }

  get heldAcks(): number {
    return this.#interceptor?.held ?? 0;
  }

  get stalled(): boolean {
    return this.#interceptor?.stalled ?? false;
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
    const wanted = this.#options.protocolVersion;
    try {
      try {
        this.#negotiating = wanted === "auto";
        await this.#connect(wanted === 4 ? 4 : 5);
      } catch (error) {
        if (wanted !== "auto" || !isProtocolRefusal(error) || this.#stopping) throw error;
        await this.#dropClient();
        await this.#connect(4);
      } finally {
        this.#negotiating = false;
      }
      await this.#subscribe(this.subscription);
    } catch (error) {
      await this.stop();
      throw error instanceof SourceError || error instanceof LifecycleError
        ? error
        : new SourceError(`Could not subscribe to "${this.subscription}"`, { cause: error });
    }
  }

  /** Subscribes; a SUBACK failure code (0x80 on MQTT 3.1.1, ≥ 0x80 on MQTT 5) is `SUBSCRIPTION_REFUSED`. */
  async #subscribe(filter: string): Promise<void> {
    let granted: Awaited<ReturnType<MqttClient["subscribeAsync"]>>;
    try {
      granted = await this.#client!.subscribeAsync(filter, { qos: this.#options.qos });
    } catch (error) {
      const code = subackFailure(error);
      if (code !== undefined) throw subscriptionRefused(filter, code, error);
      throw error;
    }
    const refused = granted.find((grant) => grant.qos > 2);
    if (refused !== undefined) throw subscriptionRefused(filter, refused.qos);
    this.#subscribed = true;
  }

  pause(): void {
    this.#paused = true;
    this.#interceptor?.hold();
    this.#keepAliveWhileStalled();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    clearInterval(this.#keepalive);
    this.#keepalive = undefined;
    this.#interceptor?.release();
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#close();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** Creates a client for `version`, wires it and resolves on its first CONNACK. */
  async #connect(version: 4 | 5): Promise<void> {
    const client = connect(this.#options.url, toClientOptions(this.#options, version));
    // Throws (before any connection exists) if this MQTT.js lacks the internals the interception needs.
    this.#interceptor = installPubackInterceptor(
      client,
      (packet, ack) => this.#receive(packet, ack),
      (error) => this.#status({ state: "error", error }),
    );
    if (this.#paused) this.#interceptor.hold();
    this.#client = client;
    this.protocolVersion = version;
    this.#wire(client);
    await this.#firstConnection(client);
  }

  async #dropClient(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#interceptor?.uninstall();
    this.#interceptor = undefined;
    if (client) await client.endAsync(true).catch(() => undefined);
  }

  /**
   * While paused with the connection stalled, MQTT.js cannot read the PINGRESP behind the kept
   * PUBLISH: keep the session alive by sending PINGREQs ourselves (the broker sees traffic) and
   * telling MQTT.js the connection is fine (it is merely not being read).
   */
  #keepAliveWhileStalled(): void {
    const seconds = this.#options.keepaliveSeconds;
    if (seconds === 0 || this.#keepalive !== undefined) return;
    this.#keepalive = setInterval(
      () => {
        const client = this.#client;
        if (!client?.connected || !this.stalled) return;
        client.sendPing();
        client.reschedulePing(true);
      },
      (seconds * 1000) / 2,
    );
    this.#keepalive.unref();
  }

  /**
   * A PUBLISH from the broker proves the connection alive. MQTT.js counts only PINGRESPs (and acks
   * of what we send), and on a long backlog a PINGRESP can sit behind many seconds of messages: tell
   * it the connection is fine, at most once a second. The broker hears from us through our PUBACKs,
   * or our own PINGREQs while stalled.
   */
  #brokerIsAlive(): void {
    const now = Date.now();
    if (now - this.#aliveAt < 1000) return;
    this.#aliveAt = now;
    this.#client?.reschedulePing(true);
  }

  async #close(): Promise<void> {
    this.#abort.abort();
    clearInterval(this.#keepalive);
    // Acknowledgements already given leave first; then nothing more is acknowledged while the connection
    // closes (a PUBLISH still arriving must not be).
    this.#interceptor?.flushNow();
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
    this.#brokerIsAlive();
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
    let attempt = 0;
    client.on("connect", (connack) => {
      attempt = 0;
      this.#reconnectDelayMs = this.#options.reconnectMinDelayMs;
      client.options.reconnectPeriod = this.#reconnectDelayMs;
      const session = connack.sessionPresent ? "session resumed" : "new session";
      this.#status({
        state: "online",
        detail: `${where} as ${this.clientId} (MQTT ${client.options.protocolVersion === 5 ? "5" : "3.1.1"}, ${session})`,
      });
    });
    client.on("packetreceive", (packet) => {
      // MQTT.js resubscribes on a new session without reporting a refusal: the source does.
      if (packet.cmd !== "suback" || !this.#subscribed) return;
      const code = subackFailure({ packet });
      if (code !== undefined) {
        this.#status({ state: "error", error: subscriptionRefused(this.subscription ?? "", code) });
      }
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
    client.on("reconnect", () => {
      attempt++;
      this.#status({ state: "reconnecting", detail: `${where}, attempt ${attempt}` });
      this.#reconnectDelayMs = Math.min(this.#reconnectDelayMs * 2, this.#options.reconnectMaxDelayMs);
      client.options.reconnectPeriod = this.#reconnectDelayMs;
    });
    client.on("error", (error) => {
      // Under "auto", MQTT 5 refused for its version is the cue to fall back, not a failure to report.
      if (this.#negotiating && isUnsupportedProtocol(error)) return;
      const refusal = connackRefusal(error);
      this.#status({
        state: "error",
        error: new SourceError(`MQTT ${where}: ${error.message}`, {
          cause: error,
          ...(refusal ? { code: refusal } : {}),
        }),
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
      const fail = (message: string, code: SourceErrorCode, cause?: unknown): void => {
        cleanup();
        reject(new SourceError(message, { code, ...(cause === undefined ? {} : { cause }) }));
      };
      const onAbort = (): void => {
        cleanup();
        reject(new LifecycleError("STOPPED", "The MQTT source was stopped while connecting."));
      };
      const onConnect = (): void => {
        cleanup();
        // From now on a refused reconnection (e.g. credentials revoked while running) is retried with
        // backoff and reported each time; only a refusal of the first connection fails `start()`.
        client.options.reconnectOnConnackError = true;
        resolve();
      };
      const onError = (error: Error & { code?: unknown }): void => {
        // A refused CONNACK (bad credentials, rejected id, …) carries a numeric reason code: do not retry it.
        const refusal = connackRefusal(error);
        if (refusal !== undefined) {
          fail(`The broker refused the connection: ${error.message}`, refusal, error);
          return;
        }
        // An untrusted or mismatched certificate will not become trusted by retrying.
        if (typeof error.code === "string" && TLS_VERIFICATION_ERROR.test(error.code)) {
          fail(
            `The broker's TLS certificate was not accepted (${error.code}: ${error.message}); pass its CA as tls.ca`,
            "TLS_UNTRUSTED",
            error,
          );
        }
      };
      const timer = setTimeout(() => {
        fail(
          `No connection to ${redactUrl(this.#options.url)} within ${this.#options.connectTimeoutMs} ms`,
          "BROKER_UNREACHABLE",
        );
      }, this.#options.connectTimeoutMs);
      client.on("connect", onConnect);
      client.on("error", onError);
      this.#abort.signal.addEventListener("abort", onAbort);
      client.connect();
    });
  }
}

/**
 * Creates an MQTT {@link Source}: a persistent QoS 1 subscription whose PUBACKs are sent only when the bridge
 * acknowledges each message (after the store's COMMIT), in arrival order.
 *
 * @remarks
 * - At-least-once: a message not acknowledged before a crash, `stop()` or a dropped connection is redelivered
 *   by the broker (persistent session: fixed `clientId`, `clean: false`); the store de-duplicates by hash.
 * - MQTT 5 by default (Receive Maximum 4000), falling back to MQTT 3.1.1 when the broker refuses MQTT 5.
 * - QoS 0 messages (`qos: 0`, or published at QoS 0) have no acknowledgement: `ack()` is a no-op, and they
 *   are at-most-once.
 * - Retained messages are delivered like any other, with `retained: true`; the broker re-sends them on each
 *   new subscription, and the store recognises the copy by its hash.
 * - `pause()` stops reading from the broker: the next message is kept back and TCP flow control holds the
 *   rest at the broker. The connection stays up (the source keeps it alive with its own PINGREQs), so no
 *   acknowledgement is lost and nothing is delivered twice; `resume()` goes on where it stopped.
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
