import type { TargetKindName } from "../drill/config.ts";
import { parsePgTimestamp } from "../support/pg-time.ts";

// The recovery targets `barman recover` understands, as one typed value, and their CLI form.
export type RecoveryTarget =
  | { kind: "time"; time: string }
  | { kind: "name"; name: string }
  | { kind: "xid"; xid: number; exclusive: boolean }
  | { kind: "lsn"; lsn: string; exclusive: boolean }
  | { kind: "immediate" }
  | { kind: "latest" };

/**
 * Barman 3.4 reads a target time without an offset in its own time zone and PostgreSQL in its
 * own; a time with an explicit offset means the same instant to both.
 */
export function assertTimeHasOffset(time: string): void {
  try {
    parsePgTimestamp(time);
  } catch {
    throw new Error(`recovery target time '${time}' must be a timestamp with an explicit UTC offset, e.g. 2026-11-25 08:29:31.371652+00`);
  }
}

export function barmanTargetArgs(target: RecoveryTarget): string[] {
  switch (target.kind) {
    case "time":
      assertTimeHasOffset(target.time);
      return ["--target-time", target.time];
    case "name":
      return ["--target-name", target.name];
    case "xid":
      return ["--target-xid", String(target.xid), ...(target.exclusive ? ["--exclusive"] : [])];
    case "lsn":
      return ["--target-lsn", target.lsn, ...(target.exclusive ? ["--exclusive"] : [])];
    case "immediate":
      return ["--target-immediate"];
    case "latest":
      return [];
  }
}

export function describeTarget(target: RecoveryTarget): string {
  switch (target.kind) {
    case "time":
      return `time ${target.time}`;
    case "name":
      return `restore point '${target.name}'`;
    case "xid":
      return `xid ${target.xid}${target.exclusive ? " (exclusive)" : ""}`;
    case "lsn":
      return `LSN ${target.lsn}${target.exclusive ? " (exclusive)" : ""}`;
    case "immediate":
      return "end of the backup (immediate)";
    case "latest":
      return "end of the archived WAL (no target)";
  }
}

/** The target of each kind a user names (PGDRILL_TARGET_KINDS, config.targets), from what the drill read off the server. */
export function targetForKind(kind: TargetKindName, at: { time: string; restorePoint: string; lsn: string; xid: number }): RecoveryTarget {
  switch (kind) {
    case "time":
      return { kind: "time", time: at.time };
    case "name":
      return { kind: "name", name: at.restorePoint };
    case "xid-exclusive":
      return { kind: "xid", xid: at.xid, exclusive: true };
    case "xid-inclusive":
      return { kind: "xid", xid: at.xid, exclusive: false };
    case "lsn":
      return { kind: "lsn", lsn: at.lsn, exclusive: false };
    case "immediate":
      return { kind: "immediate" };
    case "latest":
      return { kind: "latest" };
  }
}
