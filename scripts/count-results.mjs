// Prints the closing line CI records: "N passed, N failed[, N skipped]", counted from the JUnit
// reports of the run (npm test, then the report check). Before it, one line per failed test (its
// file, its name and the first line of its message), so that the last lines of a red run's log,
// often all that is kept of it, say what failed. Plain JavaScript, no dependencies: it runs on any
// Node.
import { readFileSync } from "node:fs";

const attribute = (tag, name) => tag.match(new RegExp(`\\b${name}="([^"]*)"`))?.[1] ?? "";
const unescapeXml = (text) =>
  text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)))
    .replace(/&amp;/g, "&");

const paths = process.argv.slice(2);
let passed = 0;
let skipped = 0;
const failures = [];
for (const path of paths.length ? paths : ["reports/junit.xml"]) {
  let xml;
  try {
    xml = readFileSync(path, "utf8");
  } catch {
    failures.push(`${path}: no test report: that test run did not get as far as writing one`);
    continue;
  }
  const cases = xml.match(/<testcase\b[^>]*?(\/>|>[\s\S]*?<\/testcase>)/g) ?? [];
  for (const testCase of cases) {
    const failure = testCase.match(/<(failure|error)\b[^>]*>/);
    if (failure) {
      const message = unescapeXml(attribute(failure[0], "message")).split("\n")[0].slice(0, 300);
      const name = unescapeXml(attribute(testCase, "name"));
      failures.push(`${unescapeXml(attribute(testCase, "classname"))} > ${name}: ${message}`);
    } else if (/<skipped\b/.test(testCase)) skipped += 1;
    else passed += 1;
  }
}
for (const failure of failures) console.log(`FAILED ${failure}`);
console.log(`${passed} passed, ${failures.length} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failures.length > 0 ? 1 : 0);
