import type { RecoveryMetrics } from "../../../src/drill/metrics.ts";

// Figures of a real drill run (reports/recovery-metrics.json of run 20261125-a2767c).
export const REAL_METRICS: RecoveryMetrics = {
  schemaVersion: 1,
  runId: "20261125-a2767c",
  drill: "Scenario 12: accidental DELETE of all orders",
  platform: "pg15-barman3.4",
  server: "pg-primary",
  backupId: "20261125T083624",
  backupSizeBytes: 37463232,
  target: { kind: "time", value: "2026-11-25 08:36:25.933281+00" },
  goodStateTime: "2026-11-25 08:36:25.933281+00",
  disasterTime: "2026-11-25 08:36:26.026415+00",
  versions: { postgres: "15.20 (Debian 15.20-0+deb12u1)", barman: "3.4.0 Barman by EnterpriseDB (www.enterprisedb.com)" },
  phasesMs: { barmanRecoverMs: 865.9727159999993, instanceStartUntilPromotedMs: 622.6940419999992, verificationMs: 89.78217100000074 },
  recoveryMs: 1578.4489289999992,
  totalFromDisasterMs: 2764.3890579999997,
  rpo: { rowsLostBeforeDisaster: 0, rowsLostByTable: {}, secondsBetweenTargetAndDisaster: 0.093 },
  objectives: { rtoBarmanRecoverS: 8, rtoInstanceStartS: 10, rtoVerificationS: 30, rtoTotalS: 240, rpoRows: 0, rpoSeconds: 60 },
  violations: [],
  verdict: "pass",
};
