// `npm run build` (and npm pack's prepack): the package pgdrill is installed from. The product's
// TypeScript compiled to dist/ (tsconfig.build.json: Node does not strip types under
// node_modules), with what the compiled code reads beside it: the images' Dockerfiles and
// scripts (containers/), Scenario 12's SQL (fixtures/).
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
let copied = 0;
for (const folder of ["containers", "fixtures"]) {
  for (const entry of readdirSync(join(root, folder), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.endsWith(".ts")) continue;
    const from = join(entry.parentPath, entry.name);
    cpSync(from, join(dist, relative(root, from)), { preserveTimestamps: true });
    copied += 1;
  }
}
chmodSync(join(dist, "bin/pgdrill.js"), 0o755);
console.log(`dist/: compiled, and ${copied} files of containers/ and fixtures/ copied beside it`);
