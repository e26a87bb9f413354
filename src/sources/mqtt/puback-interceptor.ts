/**
 * The only file that touches MQTT.js internals (tested against the pinned mqtt 5.16.0).
 *
 * MQTT.js has no manual-acknowledge API for MQTT 3.1.1, and holding its `handleMessage` callback stalls the
 * whole connection (keepalive included). So we let MQTT.js run its QoS 1 path at full speed and catch the
 * PUBACK it then sends through the private `_sendPacket(packet, cb)`: we complete its callback at once and
 * keep the packet until the message is acknowledged, then send held PUBACKs strictly in arrival order
 * (MQTT 3.1.1 §4.6 / MQTT 5 §4.6). PUBACKs held for a connection that dropped are discarded: the broker
 * redelivers those messages on the next session. A PUBACK that leaves without us (a future MQTT.js changed
 * its path) is detected through the public `packetsend` event and reported as a violation.
 */
import type { IPublishPacket, MqttClient, Packet } from "mqtt";
import { SourceError } from "../../errors.js";

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
    );
  }
  const sendPacket = original;
  const ownSend = Object.hasOwn(client, "_sendPacket");
  const ownHandle = Object.hasOwn(client, "handleMessage");
  const handleMessage = internals.handleMessage;
  let queue: HeldAck[] = [];
  const awaiting = new Map<number, HeldAck>();
  let releasing: Packet | undefined;
  let installed = true;

  const flush = (): void => {
    while (queue.length > 0) {
      const head = queue[0]!;
      if (head.discarded || head.stream !== internals.stream || internals.connected !== true) {
        // Its connection is gone (or going): the broker redelivers the message.
        head.discarded = true;
        queue.shift();
        continue;
      }
      if (!head.acked || head.puback === undefined) return;
      queue.shift();
      releasing = head.puback;
      try {
        sendPacket.call(client, head.puback);
      } finally {
        releasing = undefined;
      }
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
    sendPacket.call(client, packet, cb, cbStorePut, noStore);
  };

  internals.handleMessage = (packet, callback) => {
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
    callback();
  };

  const onPacketSend = (packet: Packet): void => {
    if (packet.cmd === "puback" && packet !== releasing) {
      onViolation(
        new SourceError(
          `A PUBACK (messageId ${String(packet.messageId)}) left before its message was acknowledged: ` +
            "this MQTT.js version bypasses veep-bridge's interception, so acknowledgement after commit is " +
            "NOT guaranteed. Install the mqtt version veep-bridge pins (5.16.0).",
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
    awaiting.clear();
  }

  return {
    get held() {
      return queue.length;
    },
    discardAll,
    uninstall() {
      if (!installed) return;
      installed = false;
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
