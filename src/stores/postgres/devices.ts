import type { Reading } from "../../message/types.js";
import type { PgQueryConfig } from "./pg-types.js";
import { SQL, statement } from "./sql.js";

interface DeviceDelta {
  tenantId: string;
  siteId: string;
  lastSeen: Date;
  count: number;
  firmwareVersion: string | null;
  firmwareAt: Date | null;
}

/**
 * The one statement upserting every device of some stored readings: tenant and site from the
 * latest reading's topic, `last_seen` = latest `received_at`, `message_count` += readings stored,
 * `firmware_version` = latest one given, `updated_at` = now. Rows go in device order, so
 * concurrent writers lock devices in the same order.
 */
export function upsertDevicesStatement(readings: readonly Reading[]): PgQueryConfig {
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
  return statement("upsert_devices", SQL.upsertDevices, [
    ids,
    deltas.map((d) => d.tenantId),
    deltas.map((d) => d.siteId),
    deltas.map((d) => d.lastSeen.toISOString()),
    deltas.map((d) => d.count),
    deltas.map((d) => d.firmwareVersion),
  ]);
}
