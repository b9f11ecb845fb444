import { describe, expect, test } from "vitest";
import { assertTimeHasOffset, barmanTargetArgs, describeTarget, type RecoveryTarget, targetForKind } from "../../src/barman/recovery-target.ts";

describe("barmanTargetArgs", () => {
  test.each<[RecoveryTarget, string[]]>([
    [{ kind: "time", time: "2026-11-25 08:29:31.371652+00" }, ["--target-time", "2026-11-25 08:29:31.371652+00"]],
    [{ kind: "time", time: "2026-11-25T08:29:31+01:00" }, ["--target-time", "2026-11-25T08:29:31+01:00"]],
    [{ kind: "name", name: "before_disaster" }, ["--target-name", "before_disaster"]],
    [{ kind: "xid", xid: 767, exclusive: false }, ["--target-xid", "767"]],
    [{ kind: "xid", xid: 767, exclusive: true }, ["--target-xid", "767", "--exclusive"]],
    [{ kind: "lsn", lsn: "0/1602B3D0", exclusive: false }, ["--target-lsn", "0/1602B3D0"]],
    [{ kind: "lsn", lsn: "0/1602B3D0", exclusive: true }, ["--target-lsn", "0/1602B3D0", "--exclusive"]],
    [{ kind: "immediate" }, ["--target-immediate"]],
    [{ kind: "latest" }, []],
  ])("%j -> %j", (target, args) => {
    expect(barmanTargetArgs(target)).toEqual(args);
  });

  test("a target time without offset is refused before Barman sees it", () => {
    expect(() => barmanTargetArgs({ kind: "time", time: "2026-11-25 08:29:31" })).toThrow(
      "recovery target time '2026-11-25 08:29:31' must be a timestamp with an explicit UTC offset, e.g. 2026-11-25 08:29:31.371652+00",
    );
  });
});

describe("assertTimeHasOffset", () => {
  test.each(["2026-11-25 08:29:31.371652+00", "2026-11-25T08:29:31+01:00", "2026-11-25 08:29:31-05", "2026-11-25 08:29:31+05:30", "2026-11-25 08:29:31+0530"])(
    "accepts %j",
    (time) => {
      expect(() => assertTimeHasOffset(time)).not.toThrow();
    },
  );

  test.each(["2026-11-25 08:29:31", "2026-11-25 08:29:31.371652", "2026-11-25", "garbage", "", "yesterday+00", "2026-13-25 08:29:31+00"])(
    "rejects %j with a message naming it",
    (time) => {
      expect(() => assertTimeHasOffset(time)).toThrow(
        `recovery target time '${time}' must be a timestamp with an explicit UTC offset, e.g. 2026-11-25 08:29:31.371652+00`,
      );
    },
  );
});

describe("describeTarget", () => {
  test.each<[RecoveryTarget, string]>([
    [{ kind: "time", time: "2026-11-25 08:29:31.371652+00" }, "time 2026-11-25 08:29:31.371652+00"],
    [{ kind: "name", name: "before_disaster" }, "restore point 'before_disaster'"],
    [{ kind: "xid", xid: 767, exclusive: false }, "xid 767"],
    [{ kind: "xid", xid: 767, exclusive: true }, "xid 767 (exclusive)"],
    [{ kind: "lsn", lsn: "0/1602B3D0", exclusive: false }, "LSN 0/1602B3D0"],
    [{ kind: "lsn", lsn: "0/1602B3D0", exclusive: true }, "LSN 0/1602B3D0 (exclusive)"],
    [{ kind: "immediate" }, "end of the backup (immediate)"],
    [{ kind: "latest" }, "end of the archived WAL (no target)"],
  ])("%j -> %s", (target, text) => {
    expect(describeTarget(target)).toBe(text);
  });

  test("describing a time target does not validate it (only barmanTargetArgs does)", () => {
    expect(describeTarget({ kind: "time", time: "not a time" })).toBe("time not a time");
  });
});

describe("fixed bugs (regression tests)", () => {
  // parsePgTimestamp relies on Date, which rolls 30 February over to 2 March; PostgreSQL would
  // then refuse recovery_target_time at startup, after the whole `barman recover` copy.
  test("assertTimeHasOffset rejects a date that does not exist (2026-02-30)", () => {
    expect(() => assertTimeHasOffset("2026-02-30 08:00:00+00")).toThrow();
  });
});

describe("targetForKind", () => {
  const at = { time: "2026-11-25 08:29:31.371652+00", restorePoint: "before_disaster", lsn: "0/404AF70", xid: 767 };
  test.each([
    ["time", { kind: "time", time: at.time }],
    ["name", { kind: "name", name: "before_disaster" }],
    ["xid-exclusive", { kind: "xid", xid: 767, exclusive: true }],
    ["xid-inclusive", { kind: "xid", xid: 767, exclusive: false }],
    ["lsn", { kind: "lsn", lsn: "0/404AF70", exclusive: false }],
    ["immediate", { kind: "immediate" }],
    ["latest", { kind: "latest" }],
  ] as const)("%s", (kind, target) => {
    expect(targetForKind(kind, at)).toEqual(target);
  });
});
