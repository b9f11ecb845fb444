// Files Allure reads from the results directory besides the test results: the environment the
// run had (versions, images, machine) and the categories failures are sorted into.
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const ALLURE_RESULTS_DIR = "reports/allure-results";

/** Failure categories, first match wins; each names where a DBA should look. */
export const FAILURE_CATEGORIES = [
  { name: "RTO / RPO objective missed", messageRegex: "[\\s\\S]*(RTO|RPO)[\\s\\S]*" },
  { name: "Backup (barman backup, verify-backup)", messageRegex: "[\\s\\S]*(barman backup|backup verification|verify-backup)[\\s\\S]*" },
  { name: "WAL archive (streaming, archive-wal)", messageRegex: "[\\s\\S]*(WAL segment|archive-wal|receive-wal|WAL streaming|barman check)[\\s\\S]*" },
  {
    name: "Recovery (barman recover, recovered instance)",
    messageRegex: "[\\s\\S]*(Recovery of backup|barman recover|did not promote|recovery ended)[\\s\\S]*",
  },
  { name: "Verification (recovered data differs)", messageRegex: "[\\s\\S]*(expected|checksum|row counts)[\\s\\S]*" },
  { name: "Infrastructure (Docker, images, containers)", messageRegex: "[\\s\\S]*(Docker|docker|container|image|engine|not running)[\\s\\S]*" },
].map((c) => ({ ...c, matchedStatuses: ["failed", "broken"] }));

const propertyLine = (key: string, value: string): string => `${key}=${value.replace(/\\/g, "\\\\").replace(/\n/g, " ")}\n`;

export async function writeReportMetadata(environment: Record<string, string>, dir = ALLURE_RESULTS_DIR): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "categories.json"), JSON.stringify(FAILURE_CATEGORIES, null, 2));
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
