import { SourceError, type SourceErrorCode } from "../../errors.js";

/** CONNACK codes (MQTT 3.1.1 return codes 1–5, MQTT 5 reason codes ≥ 128) that refuse the client itself. */
const NOT_AUTHORIZED = new Set([4, 5, 134, 135, 138, 140]);
/** "Unacceptable protocol version" (MQTT 3.1.1) and "Unsupported Protocol Version" (MQTT 5). */
const UNSUPPORTED_PROTOCOL = new Set([1, 132]);

function connackCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/**
 * The {@link SourceErrorCode} of a CONNACK refusal MQTT.js reported (its error carries the numeric
 * return or reason code), or `undefined` when `error` is not one.
 */
export function connackRefusal(error: unknown): SourceErrorCode | undefined {
  const code = connackCode(error);
  if (code === undefined) return undefined;
  return NOT_AUTHORIZED.has(code) ? "NOT_AUTHORIZED" : "CONNECTION_REFUSED";
}

/** `true` for an MQTT.js CONNACK error refusing the protocol version. */
export function isUnsupportedProtocol(error: unknown): boolean {
  const code = connackCode(error);
  return code !== undefined && UNSUPPORTED_PROTOCOL.has(code);
}

/** `true` for a start failure whose cause is the broker refusing the protocol version. */
export function isProtocolRefusal(error: unknown): boolean {
  return (
    error instanceof SourceError && error.code === "CONNECTION_REFUSED" && isUnsupportedProtocol(error.cause)
  );
}
