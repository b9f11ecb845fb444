// The Chrome or Chromium the report check drives: PGDRILL_CHROMIUM, else the first of these names
// on PATH. Debian and Ubuntu call it chromium or chromium-browser; GitHub's hosted Ubuntu runners
// have Google Chrome (google-chrome, google-chrome-stable). scripts/setup-browser.sh looks for the
// same names before it installs one.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export const BROWSER_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] as const;

const isExecutable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The browser's path; throws one line saying what to do when there is none. */
export function findBrowser(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env["PGDRILL_CHROMIUM"];
  if (chosen) {
    if (!isExecutable(chosen)) throw new Error(`PGDRILL_CHROMIUM=${chosen} is not an executable file; point it at a Chrome or Chromium binary.`);
    return chosen;
  }
  const dirs = (env["PATH"] ?? "").split(delimiter).filter(Boolean);
  for (const name of BROWSER_NAMES) {
    for (const dir of dirs) if (isExecutable(join(dir, name))) return join(dir, name);
  }
  throw new Error(
    `No Chrome or Chromium on PATH (looked for ${BROWSER_NAMES.join(", ")}): install one (Debian: sudo apt-get install chromium), or set PGDRILL_CHROMIUM to its binary.`,
  );
}
