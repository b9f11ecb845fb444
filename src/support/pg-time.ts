// PostgreSQL prints timestamptz as "2026-11-25 08:29:31.371652+00" (offset without minutes, up to
// microseconds). JavaScript's Date wants ISO 8601; this converts without losing the offset.
export function parsePgTimestamp(text: string): Date {
  const match = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(\.\d+)?(?:([+-]\d\d)(?::?(\d\d))?|(Z))$/.exec(text.trim());
  if (!match) throw new Error(`not a PostgreSQL timestamptz with an offset: '${text}'`);
  const [, date, time, fraction = "", offsetHours = "+00", offsetMinutes = "00"] = match;
  // Date rolls 2026-02-30 over into March; a date that does not exist must be refused instead.
  const wallClock = new Date(`${date}T${time}Z`);
  if (Number.isNaN(wallClock.getTime()) || wallClock.toISOString().slice(0, 19) !== `${date}T${time}`) {
    throw new Error(`not a valid timestamp: '${text}'`);
  }
  const millis = fraction ? fraction.slice(0, 4).padEnd(4, "0") : "";
  const parsed = new Date(`${date}T${time}${millis}${offsetHours}:${offsetMinutes}`);
  if (Number.isNaN(parsed.getTime())) throw new Error(`not a valid timestamp: '${text}'`);
  return parsed;
}
