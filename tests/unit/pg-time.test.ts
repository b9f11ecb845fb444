import { describe, expect, test } from "vitest";
import { parsePgTimestamp } from "../../src/support/pg-time.ts";

const utc = (h: number, m: number, s: number, ms = 0, day = 25): number => Date.UTC(2026, 10, day, h, m, s, ms);

describe("parsePgTimestamp", () => {
  test("PostgreSQL's own format: microseconds and a +00 offset", () => {
    const date = parsePgTimestamp("2026-11-25 08:29:31.371652+00");
    expect(date.getTime()).toBe(utc(8, 29, 31, 371));
    expect(date.toISOString()).toBe("2026-11-25T08:29:31.371Z");
  });

  test("sub-millisecond digits are truncated, not rounded", () => {
    expect(parsePgTimestamp("2026-11-25 08:29:31.999999+00").getTime()).toBe(utc(8, 29, 31, 999));
    expect(parsePgTimestamp("2026-11-25 08:29:31.0009+00").getTime()).toBe(utc(8, 29, 31, 0));
  });

  test("short fractions are tenths and hundredths, not milliseconds", () => {
    expect(parsePgTimestamp("2026-11-25 08:29:31.5+00").getTime()).toBe(utc(8, 29, 31, 500));
    expect(parsePgTimestamp("2026-11-25 08:29:31.05+00").getTime()).toBe(utc(8, 29, 31, 50));
    expect(parsePgTimestamp("2026-11-25 08:29:31.371+00").getTime()).toBe(utc(8, 29, 31, 371));
  });

  test("no fraction", () => {
    expect(parsePgTimestamp("2026-11-25 08:29:31+00").getTime()).toBe(utc(8, 29, 31));
  });

  test.each([
    ["2026-11-25 08:29:31+05:30", utc(2, 59, 31)],
    ["2026-11-25 08:29:31+0530", utc(2, 59, 31)],
    ["2026-11-25 08:29:31+01", utc(7, 29, 31)],
    ["2026-11-25 08:29:31-05", utc(13, 29, 31)],
    ["2026-11-25 08:29:31-03:30", utc(11, 59, 31)],
    ["2026-11-25 22:00:00-03", utc(1, 0, 0, 0, 26)],
    ["2026-11-25 01:00:00+14", utc(11, 0, 0, 0, 24)],
  ])("offset: %s", (text, millis) => {
    expect(parsePgTimestamp(text).getTime()).toBe(millis);
  });

  test("the same instant written in two zones gives the same Date", () => {
    expect(parsePgTimestamp("2026-11-25 09:29:31.371652+01").getTime()).toBe(parsePgTimestamp("2026-11-25 08:29:31.371652+00").getTime());
  });

  test("ISO 'T' separator and surrounding whitespace are accepted", () => {
    expect(parsePgTimestamp("2026-11-25T08:29:31+01:00").getTime()).toBe(utc(7, 29, 31));
    expect(parsePgTimestamp("  2026-11-25 08:29:31.371652+00\n").getTime()).toBe(utc(8, 29, 31, 371));
  });

  test.each([
    "2026-11-25 08:29:31", // no offset: ambiguous
    "2026-11-25 08:29:31.371652",
    "2026-11-25",
    "08:29:31+00",
    "garbage",
    "",
    "2026-11-25 08:29+00",
    "2026-11-25 08:29:31 +00",
    "2026-11-25 08:29:31+00:00:00",
    "2026-11-25 08:29:31UTC",
    "26-11-25 08:29:31+00",
  ])("rejects %j (no timestamptz with an offset)", (text) => {
    expect(() => parsePgTimestamp(text)).toThrow(`not a PostgreSQL timestamptz with an offset: '${text}'`);
  });

  test.each(["2026-13-25 08:29:31+00", "2026-11-25 08:60:00+00", "2026-11-25 25:00:00+00", "2026-11-25 08:29:31+24", "2026-11-32 08:29:31+00"])(
    "rejects %j (shape right, values impossible)",
    (text) => {
      expect(() => parsePgTimestamp(text)).toThrow(`not a valid timestamp: '${text}'`);
    },
  );
});

describe("fixed bugs (regression tests)", () => {
  // Date rolls impossible days over instead of refusing them: 2026-02-30 becomes 2026-03-02,
  // 2026-02-29 (2026 is not a leap year) becomes 2026-03-01, 2026-11-31 becomes 2026-12-01.
  test.each(["2026-02-30 08:00:00+00", "2026-02-29 08:00:00+00", "2026-11-31 08:00:00+00"])("rejects %j", (text) => {
    expect(() => parsePgTimestamp(text)).toThrow("not a valid timestamp");
  });
});
