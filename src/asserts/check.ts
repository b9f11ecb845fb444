// A check is one thing a drill asserts, with its values, in words a DBA reads: "orders rows on the
// recovered instance: 60,104, equal to the good state". The assertions layer builds checks from the
// engine's results; a test turns each into a named report step (src/suite/verify.ts), the
// failure drills and the nightly verification turn the failed ones into sentences.

export interface Check {
  /** What was checked, e.g. "orders rows on the recovered instance". */
  what: string;
  actual: unknown;
  /** The value wanted (equality checks) or a description of it (predicate checks). */
  expected: unknown;
  /** Where the expected value comes from, e.g. "the good state" ("equal to the good state"). */
  expectedFrom?: string;
  /** "equal": actual must deep-equal expected; "predicate": `ok` was decided by the caller. */
  kind: "equal" | "predicate";
  ok: boolean;
}

const stable = (value: unknown): string => JSON.stringify(value) ?? "undefined";

/** Deep equality, as JSON (the values come from JSON or from the servers' rows). */
export function checkEqual(what: string, actual: unknown, expected: unknown, expectedFrom?: string): Check {
  return { what, actual, expected, expectedFrom, kind: "equal", ok: stable(actual) === stable(expected) };
}

/** `ok` decided by the caller; `wanted` says in words what would have been right ("after 2026-11-25 10:00:00+00"). */
export function checkThat(what: string, actual: unknown, ok: boolean, wanted: string): Check {
  return { what, actual, expected: wanted, kind: "predicate", ok };
}

/** How much of a value a check's sentence shows. */
const VALUE_SHOWN_CHARS = 1000;

export function formatValue(value: unknown): string {
  if (typeof value === "number") return Number.isInteger(value) ? value.toLocaleString("en-US") : String(value);
  if (typeof value === "string") return value;
  if (value === null) return "absent";
  if (value === undefined) return "nothing";
  if (Array.isArray(value) && value.length === 0) return "none";
  const text = JSON.stringify(value);
  // Long enough for the sentences a failure lists (two objectives missed are ~400 characters): the
  // cause a reader needs must not be cut off; only a runaway value is.
  return text.length > VALUE_SHOWN_CHARS ? `${text.slice(0, VALUE_SHOWN_CHARS - 3)}...` : text;
}

/** The check as one line: what, the actual value, and how it compares. */
export function describeCheck(check: Check): string {
  const actual = formatValue(check.actual);
  if (check.kind === "predicate") return `${check.what}: ${actual}${check.ok ? `, ${check.expected}` : `, expected ${check.expected}`}`;
  if (check.ok) return `${check.what}: ${actual}${check.expectedFrom ? `, equal to ${check.expectedFrom}` : ""}`;
  return `${check.what}: ${actual}, expected ${formatValue(check.expected)}${check.expectedFrom ? ` (${check.expectedFrom})` : ""}`;
}

/** The failed checks as sentences; empty when all passed. */
export function failedChecks(checks: Check[]): string[] {
  return checks.filter((c) => !c.ok).map(describeCheck);
}
