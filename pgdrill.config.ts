// The project's drill configuration, found by convention (PGDRILL_CONFIG points elsewhere); `npm
// run drill` runs it as twelve ordered steps. By default it is the seed's Scenario 12: replace this
// line with your own `export default defineDrillConfig({ ... })` (examples/ has two, and the
// README's "Your own drill" explains every field).
export { default } from "./fixtures/scenario-12.config.ts";
