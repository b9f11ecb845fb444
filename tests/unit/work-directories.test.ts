// Which restored copies a later run may remove (src/nightly/work-directories.ts): a dead run's, never
// a live one's; the marker read back as written; only our own directories ever removed.
import { describe, expect, test } from "vitest";
import { isStale, isWorkDirectory, parseMarker, processAlive, type RunMarker, renderMarker } from "../../src/nightly/work-directories.ts";

const marker = (over: Partial<RunMarker> = {}): RunMarker => ({
  runId: "20261203-aaaaaa",
  pid: 4242,
  machine: "nightly-1",
  startedAt: "2026-12-03T02:00:00.000Z",
  ...over,
});

describe("stale work directories (isStale)", () => {
  const base = { ageS: 60, thisMachine: "nightly-1", ownRunId: "20261203-bbbbbb" };
  test("this machine's run whose process is gone: stale, with the run named", () => {
    const verdict = isStale({ ...base, marker: marker(), processAlive: () => false });
    expect(verdict.stale).toBe(true);
    expect(verdict.why).toMatch(/run 20261203-aaaaaa \(pid 4242 on nightly-1, started 2026-12-03T02:00:00.000Z\) is gone/);
  });
  test("this machine's run still running, and this run's own: never stale, however old", () => {
    expect(isStale({ ...base, ageS: 10 * 86400, marker: marker(), processAlive: () => true }).stale).toBe(false);
    expect(isStale({ ...base, marker: marker({ runId: base.ownRunId }), processAlive: () => false }).stale).toBe(false);
  });
  test("another machine's run or no marker: stale only after a day", () => {
    const foreign = marker({ machine: "nightly-2" });
    expect(isStale({ ...base, marker: foreign, processAlive: () => false }).stale).toBe(false);
    expect(isStale({ ...base, ageS: 25 * 3600, marker: foreign, processAlive: () => true }).stale).toBe(true);
    expect(isStale({ ...base, marker: undefined, processAlive: () => false }).stale).toBe(false);
    expect(isStale({ ...base, ageS: 25 * 3600, marker: undefined, processAlive: () => false }).why).toMatch(/no run marker and over 24 h old/);
  });
});

describe("the run marker and what may be removed", () => {
  test("a marker reads back as written; anything else reads as none", () => {
    expect(parseMarker(renderMarker(marker()))).toEqual(marker());
    expect(parseMarker("")).toBeUndefined();
    expect(parseMarker('{"runId": 3}')).toBeUndefined();
  });
  test("only directories named as ours, absolute, without ..", () => {
    expect(isWorkDirectory("/var/tmp/pgdrill-verify-20261203-aaaaaa-Xy12Ab")).toBe(true);
    expect(isWorkDirectory("/var/tmp/other")).toBe(false);
    expect(isWorkDirectory("var/tmp/pgdrill-verify-x")).toBe(false);
    expect(isWorkDirectory("/var/tmp/../etc/pgdrill-verify-x")).toBe(false);
    expect(isWorkDirectory("/var/tmp/pgdrill-verify-x y")).toBe(false);
  });
  test("processAlive: this process runs, a pid past the kernel's maximum does not", () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(2 ** 30)).toBe(false);
  });
});
