import { StoreError } from "../../errors.js";
import type { Reading } from "../../message/types.js";
import type { PgPoolLike, PgQueryable } from "./pg-types.js";
import { SQL, statement } from "./sql.js";
import { inTransaction } from "./transaction.js";

/** `setDeviceKey` was given a device the database does not know, and no tenant and site to register it. */
export class UnknownDeviceError extends StoreError {
  /** @param deviceId - the device asked for */
  constructor(readonly deviceId: string) {
    super(
      `device ${JSON.stringify(deviceId)} is unknown: it is registered by its first reading, or give its tenant and site to register it now`,
    );
    this.name = "UnknownDeviceError";
  }
}

interface DeviceDelta {
  tenantId: string;
  siteId: string;
  lastSeen: Date;
  count: number;
  firmwareVersion: string | null;
  firmwareAt: Date | null;
}

/**
 * The parameters ($1–$6) of the device upsert that goes with every append: one row per device of
 * the stored readings, with tenant and site from the latest reading's topic, `last_seen` = latest
 * `received_at`, `message_count` += readings stored, `firmware_version` = latest one given. Rows go
 * in device order, so concurrent writers lock devices in the same order.
 */
export function deviceValues(readings: readonly Reading[]): unknown[] {
  const byDevice = new Map<string, DeviceDelta>();
  for (const reading of readings) {
    const delta = byDevice.get(reading.deviceId);
    if (!delta) {
      byDevice.set(reading.deviceId, {
        tenantId: reading.tenantId,
        siteId: reading.siteId,
        lastSeen: reading.receivedAt,
        count: 1,
        firmwareVersion: reading.firmwareVersion ?? null,
        firmwareAt: reading.firmwareVersion === undefined ? null : reading.receivedAt,
      });
      continue;
    }
    delta.count += 1;
    if (reading.receivedAt >= delta.lastSeen) {
      delta.lastSeen = reading.receivedAt;
      delta.tenantId = reading.tenantId;
      delta.siteId = reading.siteId;
    }
    if (
      reading.firmwareVersion !== undefined &&
      (delta.firmwareAt === null || reading.receivedAt >= delta.firmwareAt)
    ) {
      delta.firmwareVersion = reading.firmwareVersion;
      delta.firmwareAt = reading.receivedAt;
    }
  }
  const ids = [...byDevice.keys()].sort();
  const deltas = ids.map((id) => byDevice.get(id)!);
  return [
    ids,
    deltas.map((d) => d.tenantId),
    deltas.map((d) => d.siteId),
    deltas.map((d) => d.lastSeen.toISOString()),
    deltas.map((d) => d.count),
    deltas.map((d) => d.firmwareVersion),
  ];
}

/** Where a device is registered when `PostgresStore.setDeviceKey` creates it before its first reading. */
export interface DeviceRegistration {
  /** `devices.tenant_id` (at most 100 characters). */
  readonly tenantId: string;
  /** `devices.site_id` (at most 100 characters). */
  readonly siteId: string;
}

/** What `PostgresStore.setDeviceKey` changed. */
export interface DeviceKeyChange {
  /** The device. */
  readonly deviceId: string;
  /** Its key now (`null`: removed). */
  readonly publicKey: string | null;
  /** Its key before (`null`: it had none). */
  readonly previousKey: string | null;
  /** `true` when the device row was created by this call. */
  readonly created: boolean;
}

/**
 * Sets (or with `null` removes) a device's Ed25519 public key in one transaction, creating the
 * device row when `register` is given and the device is unknown.
 */
export async function setDeviceKey(
  pool: PgPoolLike,
  deviceId: string,
  publicKey: string | null,
  register: DeviceRegistration | undefined,
): Promise<DeviceKeyChange> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ public_key: string | null }>(
      statement("lock_device_key", SQL.lockDeviceKey, [deviceId]),
    );
    const existing = rows[0];
    if (existing !== undefined) {
      await client.query(statement("set_device_key", SQL.setDeviceKey, [deviceId, publicKey]));
      return { deviceId, publicKey, previousKey: existing.public_key, created: false };
    }
    if (register === undefined) throw new UnknownDeviceError(deviceId);
    await client.query(
      statement("insert_device_with_key", SQL.insertDeviceWithKey, [
        deviceId,
        register.tenantId,
        register.siteId,
        publicKey,
      ]),
    );
    return { deviceId, publicKey, previousKey: null, created: true };
  });
}

/** Every device that has a key: device id → base58 public key. */
export async function loadDeviceKeys(db: PgQueryable): Promise<Map<string, string>> {
  const { rows } = await db.query<{ device_id: string; public_key: string }>(
    statement("device_keys", SQL.deviceKeys),
  );
  return new Map(rows.map((row) => [row.device_id, row.public_key]));
}

/**
 * `device_minute_counts` values for `readings`: device ids, minutes (UTC, truncated as PostgreSQL's
 * `date_trunc('minute', …)`) and counts, in device then minute order (the order rows are locked in).
 */
export function deviceMinuteValues(readings: readonly Reading[]): [string[], Date[], number[]] {
  const counts = new Map<string, number>();
  for (const { deviceId, receivedAt } of readings) {
    const key = `${deviceId}\u0000${Math.floor(receivedAt.getTime() / 60_000) * 60_000}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const keys = [...counts.keys()].sort();
  const devices: string[] = [];
  const minutes: Date[] = [];
  const values: number[] = [];
  for (const key of keys) {
    const at = key.lastIndexOf("\u0000");
    devices.push(key.slice(0, at));
    minutes.push(new Date(Number(key.slice(at + 1))));
    values.push(counts.get(key)!);
  }
  return [devices, minutes, values];
}
