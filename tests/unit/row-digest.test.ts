import { describe, expect, test } from "vitest";
import {
  changedTables,
  compareSnapshots,
  EMPTY_TABLE_CHECKSUM,
  quoteIdentifier,
  rowDigestSql,
  rowsLost,
  type TableSnapshot,
} from "../../src/engine/row-digest.ts";

describe("quoteIdentifier", () => {
  test.each([
    ["orders", '"orders"'],
    ["app.orders", '"app"."orders"'],
    ["sales.invoices", '"sales"."invoices"'],
    ["Orders", '"Orders"'],
    ['we"ird', '"we""ird"'],
    ['a"b.c""d', '"a""b"."c""""d"'],
  ])("%s -> %s", (name, quoted) => {
    expect(quoteIdentifier(name)).toBe(quoted);
  });
});

describe("rowDigestSql", () => {
  test("counts the rows and hashes every row's text in a stable order, in one query", () => {
    expect(rowDigestSql("orders")).toBe(
      `SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS checksum FROM "orders" t`,
    );
  });

  test("a schema-qualified table is quoted part by part", () => {
    expect(rowDigestSql("sales.invoices")).toMatch(/ FROM "sales"\."invoices" t$/);
  });

  test("a name cannot break out of its quotes", () => {
    expect(rowDigestSql('x"; DROP TABLE orders; --')).toMatch(/ FROM "x""; DROP TABLE orders; --" t$/);
  });

  test("the digest of an empty table is md5 of the empty string", () => {
    expect(EMPTY_TABLE_CHECKSUM).toBe("d41d8cd98f00b204e9800998ecf8427e");
  });
});

// The good state of Scenario 12 and what the disaster left.
const GOOD: TableSnapshot = {
  users: { rows: 1000, checksum: "u1" },
  orders: { rows: 60104, checksum: "o1" },
};
const AFTER_DELETE: TableSnapshot = {
  users: { rows: 1000, checksum: "u1" },
  orders: { rows: 0, checksum: EMPTY_TABLE_CHECKSUM },
};

describe("compareSnapshots", () => {
  test("equal snapshots: no difference", () => {
    expect(compareSnapshots(GOOD, { ...GOOD })).toEqual([]);
  });

  test("names each difference: present but expected absent, missing, other count, same count other content", () => {
    const expected = { a: { rows: 2, checksum: "x" }, b: null, c: { rows: 1, checksum: "y" }, d: { rows: 3, checksum: "z" } };
    const actual = { a: { rows: 2, checksum: "x" }, b: { rows: 4, checksum: "q" }, c: null, d: { rows: 3, checksum: "w" } };
    expect(compareSnapshots(expected, actual)).toEqual([
      "b: exists with 4 rows, expected it absent",
      "c: missing, expected 1 rows",
      "d: same 3 rows but different content (checksum w, expected z)",
    ]);
    expect(compareSnapshots(expected, expected)).toEqual([]);
  });

  test("a different row count is reported as a count, not as a checksum", () => {
    expect(compareSnapshots(GOOD, AFTER_DELETE)).toEqual(["orders: 0 rows, expected 60104"]);
  });

  test("a table not read at all counts as missing", () => {
    expect(compareSnapshots(GOOD, { users: GOOD["users"]! })).toEqual(["orders: missing, expected 60104 rows"]);
  });

  test("a table expected absent and absent is no difference", () => {
    expect(compareSnapshots({ "sales.invoices": null }, { "sales.invoices": null })).toEqual([]);
  });
});

describe("rowsLost", () => {
  test("a DELETE of all orders loses every order, and only orders", () => {
    expect(rowsLost(GOOD, AFTER_DELETE)).toEqual({ orders: 60104 });
  });

  test("a dropped table loses all its rows (null or not read at all)", () => {
    expect(rowsLost(GOOD, { users: GOOD["users"]!, orders: null })).toEqual({ orders: 60104 });
    expect(rowsLost(GOOD, { users: GOOD["users"]! })).toEqual({ orders: 60104 });
  });

  test("a perfect recovery loses nothing", () => {
    expect(rowsLost(GOOD, GOOD)).toEqual({});
  });

  test("rows gained, or rows changed in place, are not losses", () => {
    expect(rowsLost(GOOD, { users: { rows: 1001, checksum: "u2" }, orders: { rows: 60104, checksum: "o2" } })).toEqual({});
  });

  test("a table absent before cannot lose rows", () => {
    expect(rowsLost({ archive: null }, { archive: { rows: 5, checksum: "a" } })).toEqual({});
  });

  test("a partial loss counts the difference", () => {
    expect(rowsLost(GOOD, { ...GOOD, orders: { rows: 60004, checksum: "o0" } })).toEqual({ orders: 100 });
  });
});

describe("changedTables", () => {
  test("the tables whose rows or content differ, in the order of the first snapshot", () => {
    expect(changedTables(GOOD, AFTER_DELETE)).toEqual(["orders"]);
    expect(changedTables(GOOD, { users: { rows: 1000, checksum: "u2" }, orders: { rows: 1, checksum: "o2" } })).toEqual(["users", "orders"]);
  });

  test("same rows, different content (an UPDATE) is a change", () => {
    expect(changedTables(GOOD, { ...GOOD, users: { rows: 1000, checksum: "u2" } })).toEqual(["users"]);
  });

  test("a table dropped or created is a change", () => {
    expect(changedTables(GOOD, { ...GOOD, orders: null })).toEqual(["orders"]);
    expect(changedTables({ archive: null }, { archive: { rows: 0, checksum: EMPTY_TABLE_CHECKSUM } })).toEqual(["archive"]);
  });

  test("nothing changed: none", () => {
    expect(changedTables(GOOD, { ...GOOD })).toEqual([]);
  });
});
