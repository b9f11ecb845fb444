// Files Allure reads from the results directory besides the test results: the environment the run
// had (versions, images, machine). The categories failures are sorted into are Allure 3's own
// configuration (allurerc.mjs).
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const ALLURE_RESULTS_DIR = "reports/allure-results";

const propertyLine = (key: string, value: string): string => `${key}=${value.replace(/\\/g, "\\\\").replace(/\n/g, " ")}\n`;

export async function writeReportMetadata(environment: Record<string, string>, dir = ALLURE_RESULTS_DIR): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, "environment.properties"),
    Object.entries(environment)
      .map(([k, v]) => propertyLine(k, v))
      .join(""),
  );
}

/**
 * Adds what only a running drill knows (server versions) to environment.properties, once per
 * key and value: every drill file of a run reports the same servers.
 */
export async function addReportEnvironment(entries: Record<string, string>, dir = ALLURE_RESULTS_DIR): Promise<void> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, "environment.properties");
  const existing = new Set((await readFile(path, "utf8").catch(() => "")).split("\n"));
  const lines = Object.entries(entries)
    .map(([k, v]) => propertyLine(k, v))
    .filter((line) => !existing.has(line.trimEnd()));
  if (lines.length > 0) await appendFile(path, lines.join(""));
}

/**
 * What one drill's platform adds to the report's environment, keyed by the platform: a whole-suite
 * report holds drills of several PostgreSQL / Barman pairs, and one key per fact would keep only
 * whichever drill wrote last next to another pair's images.
 */
export function platformEnvironment(
  platform: string,
  versions: { postgres: string; barman: string },
  images: { postgres: string; barman: string; bases: string[] },
): Record<string, string> {
  return {
    [`servers ${platform}`]: `PostgreSQL ${versions.postgres}; Barman ${versions.barman}`,
    [`images ${platform}`]: [images.postgres, images.barman, ...images.bases].join(", "),
  };
}
