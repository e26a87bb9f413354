/**
 * The only file that touches MQTT.js internals (tested against the pinned mqtt 5.16.0).
 *
 * MQTT.js has no manual-acknowledge API for MQTT 3.1.1. So we let MQTT.js run its QoS 1 path at full speed
 * and catch the PUBACK it then sends through the private `_sendPacket(packet, cb)`: we complete its callback
 * at once and keep the packet until the message is acknowledged, then send held PUBACKs strictly in arrival
 * order (MQTT 3.1.1 §4.6 / MQTT 5 §4.6). Every PUBACK leaves through us: one MQTT.js produces for a message
 * we no longer track (its connection dropped) is swallowed, never queued for the next connection. PUBACKs
 * held for a connection that dropped are discarded: the broker redelivers those messages on the next
 * session. A PUBACK that leaves without us (a future MQTT.js changed its path) is detected through the
 * public `packetsend` event and reported as a violation.
 *
 * Flow control: while {@link PubackInterceptor.hold} is on, the next PUBLISH is kept with MQTT.js's
 * `handleMessage` callback uncalled. MQTT.js processes packets one at a time, so the connection stops
 * reading and TCP pushes back on the broker: nothing more arrives, nothing is dropped, and the connection
 * stays up. {@link PubackInterceptor.release} hands the kept PUBLISH over and lets MQTT.js go on.
 */
import type { IPublishPacket, MqttClient, Packet } from "mqtt";
import { SourceError } from "../../errors.js";

/** Messages handled between two turns of the event loop. */
const YIELD_EVERY = 8;

type SendPacket = (
  packet: Packet,
  cb?: (error?: Error) => void,
  cbStorePut?: () => void,
  noStore?: boolean,
) => void;

interface ClientInternals {
  _sendPacket?: SendPacket;
  handleMessage?: (packet: IPublishPacket, callback: (error?: Error) => void) => void;
  stream?: unknown;
  connected?: boolean;
}

interface HeldAck {
  readonly messageId: number;
  /** The transport stream the PUBLISH arrived on: its PUBACK is only valid there. */
  readonly stream: unknown;
  acked: boolean;
  discarded: boolean;
  puback: Packet | undefined;
}

/** Called for every incoming PUBLISH; `ack` is set for QoS ≥ 1 and sends the PUBACK once all earlier ones left. */
export type PublishListener = (packet: IPublishPacket, ack: (() => void) | undefined) => void;

/** Handle on an installed interceptor. */
export interface PubackInterceptor {
  /** Number of PUBACKs held (received, not yet sent). */
  readonly held: number;
  /** `true` while a PUBLISH is kept back by {@link PubackInterceptor.hold} (the connection is stalled). */
  readonly stalled: boolean;
  /** Keep the next PUBLISH back, stalling the connection, until {@link PubackInterceptor.release}. */
  hold(): void;
  /** Stop holding: the kept PUBLISH (if its connection is still up) is delivered and MQTT.js goes on. */
  release(): void;
  /** Write the PUBACKs released so far now (before a disconnect), instead of after the current job. */
  flushNow(): void;
  /** Drop every held PUBACK (connection lost, or the source stops); later `ack` calls are no-ops. */
  discardAll(): void;
  /** Restore MQTT.js's own behaviour. */
  uninstall(): void;
}

/**
 * Takes over PUBACK sending of `client`; call before `client.connect()`.
 *
 * @param client - an MQTT.js client created with `manualConnect: true`
 * @param onPublish - receives each PUBLISH in arrival order
 * @param onViolation - called if a PUBACK escapes the interception (MQTT.js internals changed)
 * @throws {@link SourceError} when the MQTT.js internals this relies on are missing
 */
export function installPubackInterceptor(
  client: MqttClient,
  onPublish: PublishListener,
  onViolation: (error: SourceError) => void,
): PubackInterceptor {
  const internals = client as unknown as ClientInternals;
  const original = internals._sendPacket;
  if (
    typeof original !== "function" ||
    typeof internals.handleMessage !== "function" ||
    !("connected" in client)
  ) {
    throw new SourceError(
      "This MQTT.js version lacks the internals veep-bridge uses to acknowledge after commit " +
        "(MqttClient#_sendPacket, #handleMessage). Install the mqtt version veep-bridge pins (5.16.0).",
      { code: "ACK_INTERCEPTION" },
    );
  }
  const sendPacket = original;
  const ownSend = Object.hasOwn(client, "_sendPacket");
  const ownHandle = Object.hasOwn(client, "handleMessage");
  const handleMessage = internals.handleMessage;
  // Held PUBACKs in arrival order from `head` on (an index, not shift(): the queue can hold thousands).
  let queue: HeldAck[] = [];
  let head = 0;
  const awaiting = new Map<number, HeldAck>();
  let installed = true;
  let holding = false;
  let sinceYield = 0;
  let kept: { packet: IPublishPacket; callback: (error?: Error) => void; stream: unknown } | undefined;

  // A commit acknowledges hundreds of messages in one go: their PUBACKs leave as one write, once the
  // acknowledging code has run (a microtask), of 4-byte packets (type 4, remaining length 2, the
  // message id; valid in MQTT 3.1.1 and, success needing no reason code, in MQTT 5), on the
  // connection they arrived on. `writeOutgoing()` also runs before the source disconnects.
  let outgoing: number[] = [];
  let outgoingStream: unknown;
  const writeOutgoing = (): void => {
    if (outgoing.length === 0) return;
    const ids = outgoing;
    const stream = outgoingStream as { write?: (chunk: Uint8Array) => boolean } | undefined;
    outgoing = [];
    outgoingStream = undefined;
    if (stream !== internals.stream || internals.connected !== true || typeof stream?.write !== "function")
      return;
    const bytes = Buffer.allocUnsafe(ids.length * 4);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      bytes[i * 4] = 0x40;
      bytes[i * 4 + 1] = 0x02;
      bytes[i * 4 + 2] = id >> 8;
      bytes[i * 4 + 3] = id & 0xff;
    }
    stream.write(bytes);
  };
  const sendPuback = (messageId: number): void => {
    if (outgoing.length === 0) {
      outgoingStream = internals.stream;
      queueMicrotask(writeOutgoing);
    }
    outgoing.push(messageId);
  };

  const flush = (): void => {
    while (head < queue.length) {
      const first = queue[head]!;
      if (first.discarded || first.stream !== internals.stream || internals.connected !== true) {
        // Its connection is gone (or going): the broker redelivers the message.
        first.discarded = true;
        head++;
        continue;
      }
      if (!first.acked || first.puback === undefined) break;
      head++;
      sendPuback(first.messageId);
    }
    if (head === queue.length) {
      queue = [];
      head = 0;
    } else if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  };

  internals._sendPacket = function interceptedSendPacket(this: unknown, packet, cb, cbStorePut, noStore) {
    if (packet.cmd === "puback" && typeof packet.messageId === "number") {
      const held = awaiting.get(packet.messageId);
      if (held !== undefined) {
        awaiting.delete(packet.messageId);
        held.puback = packet;
        flush();
        cb?.();
        return;
      }
    }
    if (packet.cmd === "puback") {
      // Not ours to send: its message belongs to a connection that is gone (or was never tracked).
      cb?.();
      return;
    }
    sendPacket.call(client, packet, cb, cbStorePut, noStore);
  };

  const accept = (packet: IPublishPacket, callback: (error?: Error) => void): void => {
    if (packet.qos > 0 && typeof packet.messageId === "number") {
      const held: HeldAck = {
        messageId: packet.messageId,
        stream: internals.stream,
        acked: false,
        discarded: false,
        puback: undefined,
      };
      queue.push(held);
      awaiting.set(held.messageId, held);
      onPublish(packet, () => {
        if (held.acked || held.discarded) return;
        held.acked = true;
        flush();
      });
    } else {
      onPublish(packet, undefined);
    }
    // MQTT.js handles the packets of a socket read back to back (process.nextTick): on a backlog that
    // is hundreds of messages without a turn of the event loop. Yield now and then, so replies of the
    // database (the commit in flight) are not kept waiting behind them.
    if (++sinceYield >= YIELD_EVERY) {
      sinceYield = 0;
      setImmediate(callback);
    } else {
      callback();
    }
  };

  internals.handleMessage = (packet, callback) => {
    if (holding) {
      kept = { packet, callback, stream: internals.stream };
      return;
    }
    accept(packet, callback);
  };

  const onPacketSend = (packet: Packet): void => {
    // Held PUBACKs are written as bytes of our own, never through MQTT.js: any PUBACK it sends bypassed us.
    if (packet.cmd === "puback") {
      onViolation(
        new SourceError(
          `A PUBACK (messageId ${String(packet.messageId)}) left before its message was acknowledged: ` +
            "this MQTT.js version bypasses veep-bridge's interception, so acknowledgement after commit is " +
            "NOT guaranteed. Install the mqtt version veep-bridge pins (5.16.0).",
          { code: "ACK_INTERCEPTION" },
        ),
      );
    }
  };
  const onClose = (): void => {
    discardAll();
  };
  const onConnect = (): void => {
    flush();
  };
  client.on("packetsend", onPacketSend);
  client.on("close", onClose);
  client.on("connect", onConnect);

  function discardAll(): void {
    for (const held of queue) held.discarded = true;
    queue = [];
    head = 0;
    awaiting.clear();
    // A kept PUBLISH of a closed connection is forgotten: its pump is gone, and the broker redelivers it.
    kept = undefined;
  }

  return {
    get held() {
      return queue.length - head;
    },
    get stalled() {
      return kept !== undefined;
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      const next = kept;
      kept = undefined;
      if (next !== undefined && next.stream === internals.stream && internals.connected === true) {
        accept(next.packet, next.callback);
      }
    },
    flushNow: writeOutgoing,
    discardAll,
    uninstall() {
      if (!installed) return;
      installed = false;
      kept = undefined;
      holding = false;
      discardAll();
      if (ownSend) internals._sendPacket = sendPacket;
      else delete internals._sendPacket;
      if (ownHandle) internals.handleMessage = handleMessage;
      else delete internals.handleMessage;
      client.off("packetsend", onPacketSend);
      client.off("close", onClose);
      client.off("connect", onConnect);
    },
  };
}
