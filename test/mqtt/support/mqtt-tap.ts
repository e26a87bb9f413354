import { type AddressInfo, createServer, connect as netConnect, type Socket } from "node:net";

/**
 * What one client connection through an {@link MqttTap} carried, counted from the MQTT packets
 * themselves: what the broker sent the client and what the client acknowledged, as the broker sees it.
 */
export interface TappedConnection {
  /** 0 for the first connection through the tap, then 1, 2, … */
  readonly index: number;
  /** Protocol level of its CONNECT: 4 (MQTT 3.1.1) or 5. */
  protocol: number | undefined;
  /** Client identifier of its CONNECT. */
  clientId: string | undefined;
  /** QoS 1 and 2 PUBLISH packets the broker sent on it. */
  delivered: number;
  /**
   * Those of them whose topic and payload the tap had already seen delivered (on this connection or an
   * earlier one): redeliveries, found by content, so they count for brokers that set no DUP flag (aedes).
   */
  redelivered: number;
  /** PUBACKs the client sent. */
  acked: number;
  /**
   * Deliveries on it the client has not acknowledged (yet), by packet id. A multiset: aedes resends a
   * stored message under the packet id it had on an earlier connection, and may give a new message the
   * same id on this one, so one id can stand for two deliveries in flight.
   */
  readonly unacked: PacketIds;
  /**
   * `unacked.size` when the client's side closed (it was killed, or it disconnected): deliveries it had
   * not acknowledged when it went.
   */
  heldWhenClientLeft: number | undefined;
  /**
   * `unacked.size` when the broker's side closed: what the broker still had in flight to this client then
   * (after the client left, the tap still reads, and counts, what the broker had already sent).
   */
  heldAtClose: number | undefined;
  /** Which side closed the connection first, once closed. */
  closedBy: "client" | "broker" | undefined;
}

/** A TCP proxy in front of a broker that reads the MQTT packets it forwards. */
export interface MqttTap {
  /** `mqtt://127.0.0.1:<port>` of the tap (give this to the client under observation). */
  readonly url: string;
  /** Every connection so far, in the order they were opened. */
  readonly connections: readonly TappedConnection[];
  /** PUBACKs, deliveries and redeliveries summed over all connections. */
  totals(): { delivered: number; redelivered: number; acked: number };
  /**
   * Whether a client PUBACKed a delivery of this topic and payload, on any connection. Each PUBACK is
   * matched to the oldest delivery on its connection still unacknowledged under that packet id.
   */
  acknowledged(topic: string, payload: string | Buffer): boolean;
  close(): Promise<void>;
}

/** Packet ids with a count each; `size` counts every occurrence. */
export class PacketIds {
  readonly #counts = new Map<number, number>();
  #size = 0;

  /** Occurrences held, over all ids. */
  get size(): number {
    return this.#size;
  }

  add(id: number): void {
    this.#counts.set(id, (this.#counts.get(id) ?? 0) + 1);
    this.#size++;
  }

  /** Removes one occurrence of `id`, if held. */
  delete(id: number): void {
    const count = this.#counts.get(id);
    if (count === undefined) return;
    if (count === 1) this.#counts.delete(id);
    else this.#counts.set(id, count - 1);
    this.#size--;
  }
}

/** Splits a byte stream into MQTT control packets. */
class PacketReader {
  #pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onPacket: (type: number, flags: number, body: Buffer) => void) {}

  push(chunk: Buffer): void {
    const buffer = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    let offset = 0;
    for (;;) {
      const length = readVarint(buffer, offset + 1);
      if (length === undefined) break;
      const start = offset + 1 + length.bytes;
      if (buffer.length < start + length.value) break;
      const header = buffer[offset]!;
      this.onPacket(header >> 4, header & 0x0f, buffer.subarray(start, start + length.value));
      offset = start + length.value;
    }
    this.#pending = Buffer.from(buffer.subarray(offset));
  }
}

/** MQTT variable byte integer at `offset`, or `undefined` when it is not complete yet. */
function readVarint(buffer: Buffer, offset: number): { value: number; bytes: number } | undefined {
  let value = 0;
  let multiplier = 1;
  for (let bytes = 1; bytes <= 4; bytes++) {
    if (offset + bytes > buffer.length) return undefined;
    const byte = buffer[offset + bytes - 1]!;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { value, bytes };
    multiplier *= 128;
  }
  throw new Error("malformed MQTT remaining length");
}

/** The key a delivery is known by: the length-prefixed topic, then the payload, byte for byte. */
function deliveryKey(prefixedTopic: Buffer, payload: Buffer): string {
  return `${prefixedTopic.toString("latin1")}${payload.toString("latin1")}`;
}

const CONNECT = 1;
const PUBLISH = 3;
const PUBACK = 4;

/** Starts a tap in front of the broker at `brokerUrl` (mqtt://host:port, no TLS). */
export async function startMqttTap(brokerUrl: string): Promise<MqttTap> {
  const target = new URL(brokerUrl);
  const connections: TappedConnection[] = [];
  const seen = new Set<string>();
  const acknowledged = new Set<string>();
  const sockets = new Set<Socket>();

  const server = createServer((client) => {
    const broker = netConnect(Number(target.port || 1883), target.hostname);
    sockets.add(client);
    sockets.add(broker);
    const connection: TappedConnection = {
      index: connections.length,
      protocol: undefined,
      clientId: undefined,
      delivered: 0,
      redelivered: 0,
      acked: 0,
      unacked: new PacketIds(),
      heldWhenClientLeft: undefined,
      heldAtClose: undefined,
      closedBy: undefined,
    };
    connections.push(connection);
    /** Keys of the deliveries awaiting a PUBACK on this connection, oldest first, by packet id. */
    const awaiting = new Map<number, string[]>();

    const fromClient = new PacketReader((type, _flags, body) => {
      if (type === CONNECT) {
        const nameLength = body.readUInt16BE(0);
        const protocol = body[2 + nameLength]!;
        connection.protocol = protocol;
        let at = 2 + nameLength + 1 + 1 + 2; // protocol name, level, connect flags, keepalive
        if (protocol === 5) {
          const properties = readVarint(body, at)!;
          at += properties.bytes + properties.value;
        }
        connection.clientId = body.toString("utf8", at + 2, at + 2 + body.readUInt16BE(at));
      } else if (type === PUBACK) {
        const packetId = body.readUInt16BE(0);
        connection.acked++;
        connection.unacked.delete(packetId);
        const key = awaiting.get(packetId)?.shift();
        if (key !== undefined) acknowledged.add(key);
      }
    });
    const fromBroker = new PacketReader((type, flags, body) => {
      if (type !== PUBLISH) return;
      const qos = (flags >> 1) & 3;
      if (qos === 0) return;
      const topicEnd = 2 + body.readUInt16BE(0);
      let at = topicEnd;
      const packetId = body.readUInt16BE(at);
      at += 2;
      if (connection.protocol === 5) {
        const properties = readVarint(body, at)!;
        at += properties.bytes + properties.value;
      }
      const key = deliveryKey(body.subarray(0, topicEnd), body.subarray(at));
      connection.delivered++;
      connection.unacked.add(packetId);
      const keys = awaiting.get(packetId);
      if (keys === undefined) awaiting.set(packetId, [key]);
      else keys.push(key);
      if (seen.has(key)) connection.redelivered++;
      else seen.add(key);
    });

    client.on("data", (chunk: Buffer) => fromClient.push(chunk));
    broker.on("data", (chunk: Buffer) => fromBroker.push(chunk));
    client.pipe(broker);
    broker.pipe(client);
    // The client went away (killed, or it disconnected): pass on what it sent, then end towards the broker,
    // so every PUBACK it sent reaches the broker.
    const clientGone = (): void => {
      sockets.delete(client);
      connection.closedBy ??= "client";
      connection.heldWhenClientLeft ??= connection.unacked.size;
      // Keep reading (and counting) what the broker sent until it closes its side.
      broker.unpipe(client);
      broker.resume();
      broker.end();
    };
    client.on("error", clientGone).on("close", clientGone);
    broker.on("error", () => broker.destroy());
    broker.on("close", () => {
      sockets.delete(broker);
      connection.closedBy ??= "broker";
      connection.heldAtClose ??= connection.unacked.size;
      connection.heldWhenClientLeft ??= connection.unacked.size;
      client.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    connections,
    totals() {
      let delivered = 0;
      let redelivered = 0;
      let acked = 0;
      for (const c of connections) {
        delivered += c.delivered;
        redelivered += c.redelivered;
        acked += c.acked;
      }
      return { delivered, redelivered, acked };
    },
    acknowledged(topic, payload) {
      const name = Buffer.from(topic, "utf8");
      const prefixed = Buffer.concat([Buffer.from([name.length >> 8, name.length & 0xff]), name]);
      return acknowledged.has(deliveryKey(prefixed, Buffer.from(payload)));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
