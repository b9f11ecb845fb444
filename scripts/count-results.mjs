// Prints the closing line CI records: "N passed, N failed[, N skipped]", counted from the JUnit
// report of the last Vitest run. Plain JavaScript without dependencies: it runs on any Node.
import { readFileSync } from "node:fs";

const path = process.argv[2] ?? "reports/junit.xml";
let xml;
try {
  xml = readFileSync(path, "utf8");
} catch {
  console.log("0 passed, 1 failed");
  console.error(`no test report at ${path}: the test run did not get as far as writing one`);
  process.exit(1);
}
const cases = xml.match(/<testcase\b[^>]*?(\/>|>[\s\S]*?<\/testcase>)/g) ?? [];
const failed = cases.filter((c) => /<(failure|error)\b/.test(c)).length;
const skipped = cases.filter((c) => /<skipped\b/.test(c)).length;
const passed = cases.length - failed - skipped;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
