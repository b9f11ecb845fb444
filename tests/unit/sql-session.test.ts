import { describe, expect, test } from "vitest";
import { firstStatementLine, inlineParameters, rowsAsJson } from "../../containers/postgres/sql-session.ts";

const ROWS_PREFIX =
  "SELECT coalesce(json_agg((SELECT json_agg(e.value ORDER BY e.n) FROM json_each(to_json(q)) WITH ORDINALITY AS e(key, value, n))), '[]') FROM (";

describe("rowsAsJson", () => {
  test("wraps the query so each row becomes the array of its column values, in column order", () => {
    expect(rowsAsJson("SELECT count(*)::int FROM orders")).toBe(`${ROWS_PREFIX}SELECT count(*)::int FROM orders\n) q`);
  });

  test("a trailing semicolon and surrounding whitespace are dropped (a subquery cannot hold them)", () => {
    expect(rowsAsJson("  SELECT 1 AS a, 1 AS a;  \n")).toBe(`${ROWS_PREFIX}SELECT 1 AS a, 1 AS a\n) q`);
  });

  test("a trailing line comment cannot swallow the closing parenthesis", () => {
    expect(rowsAsJson("SELECT id FROM users ORDER BY id -- first ones")).toBe(`${ROWS_PREFIX}SELECT id FROM users ORDER BY id -- first ones\n) q`);
  });

  test("a multi-line query is kept as written", () => {
    expect(rowsAsJson("SELECT id\nFROM users\nORDER BY id;")).toBe(`${ROWS_PREFIX}SELECT id\nFROM users\nORDER BY id\n) q`);
  });
});

describe("inlineParameters", () => {
  test.each<[string, string, unknown[], string]>([
    ["a text value is quoted", "SELECT pg_create_restore_point($1)", ["before_disaster"], "SELECT pg_create_restore_point('before_disaster')"],
    ["a quote inside a value is doubled", "SELECT $1", ["it's"], "SELECT 'it''s'"],
    [
      "a quoted identifier as a value stays inside the literal",
      "SELECT to_regclass($1) IS NOT NULL",
      ['"sales"."invoices"'],
      `SELECT to_regclass('"sales"."invoices"') IS NOT NULL`,
    ],
    ["null becomes NULL, unquoted", "SELECT $1", [null], "SELECT NULL"],
    ["undefined becomes NULL too", "SELECT $1", [undefined], "SELECT NULL"],
    ["numbers and booleans become quoted literals PostgreSQL casts", "SELECT $1::int, $2::bool", [767, true], "SELECT '767'::int, 'true'::bool"],
    ["a parameter used twice is replaced twice", "SELECT $1 = $1", ["x"], "SELECT 'x' = 'x'"],
    ["$10 is the tenth parameter, not $1 followed by 0", "SELECT $10, $1", ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], "SELECT 'j', 'a'"],
    ["a backslash gives an escape string", "SELECT $1", ["a\\b"], "SELECT  E'a\\\\b'"],
    ["dollar quoting is left alone", "DO $$ BEGIN PERFORM 1; END $$", [], "DO $$ BEGIN PERFORM 1; END $$"],
  ])("%s", (_, text, params, sql) => {
    expect(inlineParameters(text, params)).toBe(sql);
  });

  test("a parameter without a value is an error naming it", () => {
    expect(() => inlineParameters("SELECT $1, $2", ["only one"])).toThrow("SQL parameter $2 has no value");
    expect(() => inlineParameters("SELECT $1", [])).toThrow("SQL parameter $1 has no value");
    expect(() => inlineParameters("SELECT $0", ["x"]), "there is no $0").toThrow("SQL parameter $0 has no value");
  });

  test("dates are inlined as ISO timestamps; objects and arrays are refused", () => {
    expect(inlineParameters("SELECT $1::timestamptz", [new Date("2026-11-25T10:00:00Z")])).toBe("SELECT '2026-11-25T10:00:00.000Z'::timestamptz");
    expect(() => inlineParameters("SELECT $1", [[1, 2]])).toThrow("only text, numbers, booleans and dates can be inlined");
  });
});

describe("firstStatementLine", () => {
  test.each([
    ["SELECT 1", "SELECT 1"],
    ["-- the disaster\n  DELETE FROM orders;\n", "DELETE FROM orders;"],
    ["\n\n  -- a\n-- b\nINSERT INTO t\nVALUES (1)", "INSERT INTO t"],
    ["-- only a comment", "-- only a comment"],
  ])("%j -> %j", (sql, line) => {
    expect(firstStatementLine(sql)).toBe(line);
  });
});
