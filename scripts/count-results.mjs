// Prints the closing line CI records: "N passed, N failed[, N skipped]", counted from the JUnit
// reports of the run (npm test, then the report check). Plain JavaScript, no dependencies: it
// runs on any Node.
import { readFileSync } from "node:fs";

const paths = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
for (const path of paths.length ? paths : ["reports/junit.xml"]) {
  let xml;
  try {
    xml = readFileSync(path, "utf8");
  } catch {
    console.error(`no test report at ${path}: that test run did not get as far as writing one`);
    failed += 1;
    continue;
  }
  const cases = xml.match(/<testcase\b[^>]*?(\/>|>[\s\S]*?<\/testcase>)/g) ?? [];
  const caseFailed = cases.filter((c) => /<(failure|error)\b/.test(c)).length;
  const caseSkipped = cases.filter((c) => /<skipped\b/.test(c)).length;
  failed += caseFailed;
  skipped += caseSkipped;
  passed += cases.length - caseFailed - caseSkipped;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
