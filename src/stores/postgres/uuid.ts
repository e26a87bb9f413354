const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `true` for a UUID in its text form (anything else cannot match a `uuid` column). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
