// PostgreSQL prints timestamptz as "2026-11-25 08:29:31.371652+00" (offset without minutes, up to
// microseconds). JavaScript's Date wants ISO 8601; this converts without losing the offset.
export function parsePgTimestamp(text: string): Date {
  const match = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d)(?::?(\d\d))?$/.exec(text.trim());
  if (!match) throw new Error(`not a PostgreSQL timestamptz with an offset: '${text}'`);
  const [, date, time, fraction = "", offsetHours, offsetMinutes = "00"] = match;
  const millis = fraction ? fraction.slice(0, 4).padEnd(4, "0") : "";
  const parsed = new Date(`${date}T${time}${millis}${offsetHours}:${offsetMinutes}`);
  if (Number.isNaN(parsed.getTime())) throw new Error(`not a valid timestamp: '${text}'`);
  return parsed;
}
