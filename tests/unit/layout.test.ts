// The layout's rule of imports (README, Layout), read from the source: containers/ drives Docker
// on top of src's pure modules only (settings, Barman output parsers, targets, recovery log, waits),
// and nothing those reach imports containers/ back; the drivers (src/engine, src/nightly,
// src/suite, src/cli) sit above containers/. So imports between the two trees go one way.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DRIVERS = /^src\/(engine|nightly|suite|cli)\//;

const tracked = (): string[] =>
  spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts"], { cwd: ROOT, encoding: "utf8" })
    .stdout.split("\n")
    .filter((f) => f && !f.endsWith(".d.ts"));

/** The repository files a file imports (relative specifiers only; packages and node: are not ours). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)["'](\.{1,2}\/[^"']+)["']/gm)].map((m) => m[1]!);
  return specifiers.map((s) => relative(ROOT, normalize(join(ROOT, dirname(file), s)))).filter((f) => existsSync(join(ROOT, f)));
}

/** Every repository file reachable from `starts` through imports, the starts excluded. */
function reachable(starts: string[], graph: Map<string, string[]>): Set<string> {
  const seen = new Set<string>();
  const stack = starts.flatMap((s) => graph.get(s) ?? []);
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next) || starts.includes(next)) continue;
    seen.add(next);
    stack.push(...(graph.get(next) ?? []));
  }
  return seen;
}

describe("imports go one way between src/ and containers/", () => {
  const files = tracked();
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const containers = files.filter((f) => f.startsWith("containers/"));
  const below = [...reachable(containers, graph)].filter((f) => !f.startsWith("containers/")).sort();

  test("the graph is read: containers/ reaches src's pure modules, and the drivers reach containers/", () => {
    // Positive controls: a rule over an empty graph would pass whatever the code did.
    expect(below).toContain("src/support/wait.ts");
    expect(graph.get("src/nightly/verify-existing.ts")).toContain("containers/exec.ts");
  });

  test("containers/ imports no driver (src/engine, src/nightly, src/suite, src/cli), directly or through another module", () => {
    expect(below.filter((f) => DRIVERS.test(f))).toEqual([]);
  });

  test("nothing containers/ builds on imports containers/ back", () => {
    const back = below.flatMap((f) => (graph.get(f) ?? []).filter((i) => i.startsWith("containers/")).map((i) => `${f} -> ${i}`));
    expect(back).toEqual([]);
  });

  test("the modules containers/ builds on are only src's pure ones (no tests/, no fixtures/)", () => {
    expect(below.filter((f) => !f.startsWith("src/"))).toEqual([]);
  });
});
