// The package's API (`import ... from "pg-dr-drill"`): a team's configuration helper and its
// types, the ordered drill suite for its own Vitest run (with "pg-dr-drill/global-setup" as
// globalSetup), and the nightly verification of one Barman server.
export {
  type DrillConfig,
  defineDrillConfig,
  type FullDrConfig,
  type LoadedDrillConfig,
  loadDrillConfig,
  type NightlyConfig,
  type NightlyServerConfig,
  type PrimaryContext,
  type VerificationQuery,
} from "./drill/drill-config.ts";
export type { NightlyResult, VerifyExistingOptions } from "./nightly/nightly-result.ts";
export { verifyExistingBackup } from "./nightly/verify-existing.ts";
export { defineDrillSuite } from "./suite/drill-suite.ts";
