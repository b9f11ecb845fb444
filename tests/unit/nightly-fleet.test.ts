// The pure parts of the nightly fleet run: shards, durations, per-server plans, the concurrency
// pool, ages as people read them, and the newest segment of Barman's WAL catalogue.
import { describe, expect, test } from "vitest";
import { newestArchivedSegment } from "../../src/barman/barman-output.ts";
import { validateDrillConfig } from "../../src/drill/drill-config.ts";
import { failedBeforeStart, mapWithConcurrency, parseDurationS, parseShard, planFromConfig, serversOfShard } from "../../src/nightly/fleet.ts";
import { describeAge } from "../../src/nightly/nightly-result.ts";

describe("shards of a fleet", () => {
  test("I/N is parsed; anything else is refused", () => {
    expect(parseShard("2/3")).toEqual({ index: 2, count: 3 });
    for (const bad of ["0/3", "4/3", "1/0", "1", "a/b", "1/3/4", " 1/3"]) expect(() => parseShard(bad), bad).toThrow(/is not a shard such as 1\/3/);
  });

  test("every server is in exactly one shard, whatever order the list came in", () => {
    const servers = ["sales", "billing", "audit", "crm", "hr"];
    const shards = [1, 2, 3].map((index) => serversOfShard(servers, { index, count: 3 }));
    expect(shards).toEqual([["audit", "hr"], ["billing", "sales"], ["crm"]]);
    expect(shards.flat().sort()).toEqual([...servers].sort());
    expect(serversOfShard([...servers].reverse(), { index: 1, count: 3 })).toEqual(shards[0]);
    expect(serversOfShard(["one"], { index: 2, count: 2 }), "more shards than servers: an empty shard").toEqual([]);
  });
});

describe("durations", () => {
  test.each([
    ["26h", 93600],
    ["90m", 5400],
    ["1h30m", 5400],
    ["2d", 172800],
    ["3600", 3600],
    ["45s", 45],
    ["1d2h3m4s", 93784],
  ])("%s is %i s", (text, seconds) => {
    expect(parseDurationS(text)).toBe(seconds);
  });

  test.each(["", "h", "1x", "-5", "0", "0h", "1.5h"])("'%s' is refused", (text) => {
    expect(() => parseDurationS(text)).toThrow(/duration|longer than zero/);
  });

  test("an age reads as days, hours, minutes", () => {
    expect(describeAge(0)).toBe("0s");
    expect(describeAge(59.6)).toBe("1m");
    expect(describeAge(93784)).toBe("1d 2h 3m");
    expect(describeAge(3605)).toBe("1h 5s");
  });
});

describe("a server's plan from the configuration", () => {
  const checks = [{ name: "orders", sql: "SELECT count(*) FROM orders", expected: [[60004]] }];
  const billingChecks = [{ name: "invoices", sql: "SELECT count(*) FROM invoices", expected: [[12]] }];
  const config = validateDrillConfig(
    {
      name: "fleet",
      database: "shop",
      nightly: {
        checks,
        freshness: { maxBackupAgeS: 93600, maxWalAgeS: 3600 },
        servers: { billing: { checks: billingChecks, database: "billing", amcheck: true, freshness: { maxWalAgeS: 600 } } },
      },
    },
    "test",
  );

  test("the common part for a server without its own", () => {
    expect(planFromConfig(config, "sales")).toEqual({
      checks,
      database: "shop",
      builtInChecks: { amcheck: false, pgDump: false },
      freshness: { maxBackupAgeS: 93600, maxWalAgeS: 3600 },
      recoveryPointQuery: undefined,
    });
  });

  test("a server's own settings replace the common ones field by field; the command line wins over both", () => {
    expect(planFromConfig(config, "billing")).toMatchObject({
      checks: billingChecks,
      database: "billing",
      builtInChecks: { amcheck: true, pgDump: false },
      freshness: { maxBackupAgeS: 93600, maxWalAgeS: 600 },
    });
    expect(planFromConfig(config, "billing", { database: "other", pgDump: true, freshness: { maxBackupAgeS: 60 } })).toMatchObject({
      database: "other",
      builtInChecks: { amcheck: true, pgDump: true },
      freshness: { maxBackupAgeS: 60, maxWalAgeS: 600 },
    });
  });

  test("a server with nothing to check gets a sentence saying what to give, not an empty plan", () => {
    const bare = validateDrillConfig({ name: "bare", database: "shop", nightly: { amcheck: false } }, "test");
    expect(planFromConfig(bare, "sales")).toMatch(/^no checks for server 'sales': give nightly.checks or nightly.servers.sales.checks/);
    expect(planFromConfig(bare, "sales", { amcheck: true })).toMatchObject({ checks: [], builtInChecks: { amcheck: true, pgDump: false } });
  });

  test("the configuration refuses a bad per-server part in one line each", () => {
    expect(() => validateDrillConfig({ name: "x", nightly: { freshness: { maxBackupAgeS: -1 }, pgDump: "yes" } }, "test")).toThrow(
      /pgDump: Invalid input: expected boolean[\s\S]*maxBackupAgeS: Too small/,
    );
    expect(() => validateDrillConfig({ name: "x", nightly: { servers: { "bad name": { amcheck: true } } } }, "test")).toThrow(
      /config.nightly.servers.bad name: must be a Barman server name/,
    );
  });
});

describe("a server that cannot start", () => {
  test("is a red result of the same shape as the others, naming the server and why", () => {
    const result = failedBeforeStart({ server: "crm", barman: "SSH barman@backup-host", target: { kind: "latest" }, reason: "no checks for server 'crm'" });
    expect(result).toMatchObject({
      verdict: "fail",
      server: "crm",
      mode: "full WAL replay",
      failedPhase: "backup selection",
      problems: ["backup selection failed for server 'crm': no checks for server 'crm'"],
      checks: [],
      interrupted: false,
    });
    expect(Object.values(result.phasesMs)).toEqual([null, null, null, null, null]);
    expect(result.freshness.backupAgeS).toBeNull();
  });
});

describe("the concurrency pool", () => {
  test("never more than the limit at once, results in the items' order", async () => {
    let running = 0;
    let most = 0;
    const gates: Array<() => void> = [];
    const results = mapWithConcurrency([1, 2, 3, 4, 5], 2, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((open) => gates.push(open));
      running--;
      return n * 10;
    });
    // Let the workers through one at a time, each as soon as it is waiting.
    while (gates.length > 0 || running > 0) {
      await Promise.resolve();
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    expect(await results).toEqual([10, 20, 30, 40, 50]);
    expect(most).toBe(2);
  });
});

describe("the newest segment of Barman's WAL catalogue (xlog.db)", () => {
  test("the latest archived segment; history files and backup labels skipped", () => {
    const lines = [
      "000000010000000000000003\t16777216\t1764650000.5\tNone",
      "000000010000000000000004.00000028.backup\t340\t1764650100.0\tNone",
      "000000010000000000000004\t16777216\t1764650200.25\tgzip",
      "00000002.history\t42\t1764650300.0\tNone",
      "",
    ].join("\n");
    expect(newestArchivedSegment(lines)).toEqual({ segment: "000000010000000000000004", archivedAt: new Date(1764650200250) });
    expect(newestArchivedSegment("")).toBeUndefined();
  });
});
