// The PostgreSQL and Barman versions the drill runs, chosen separately as teams run them, and the
// Debian suite each comes from: the one place that says what exists and which pairs work.
// Barman runs pg_basebackup, pg_receivewal and pg_verifybackup from its own PostgreSQL client
// packages, which must be at least as new as the server they back up.

export type DebianSuite = "bookworm" | "trixie" | "forky";

export const DEBIAN_SUITES: Record<DebianSuite, { release: string; moving: boolean }> = {
  bookworm: { release: "Debian 12", moving: false },
  trixie: { release: "Debian 13 (stable)", moving: false },
  // Debian's testing suite: it moves, and the registry serves a snapshot whose Release file is
  // past its Valid-Until, so apt is told not to check that date for it.
  forky: { release: "Debian 14 (testing)", moving: true },
};

export const POSTGRES_VERSIONS = {
  "15": { suite: "bookworm" },
  "17": { suite: "trixie" },
  "18": { suite: "forky" },
} as const satisfies Record<string, { suite: DebianSuite }>;

export const BARMAN_VERSIONS = {
  "3.4": { suite: "bookworm", clientMajor: 15 },
  "3.13": { suite: "trixie", clientMajor: 17 },
  "3.20": { suite: "forky", clientMajor: 18 },
} as const satisfies Record<string, { suite: DebianSuite; clientMajor: number }>;

export type PostgresVersion = keyof typeof POSTGRES_VERSIONS;
export type BarmanVersion = keyof typeof BARMAN_VERSIONS;

export interface Platform {
  postgres: PostgresVersion;
  barman: BarmanVersion;
}

/** The seed's PostgreSQL 15 with the Barman of Debian's current stable (trixie). */
export const DEFAULT_PLATFORM: Platform = { postgres: "15", barman: "3.13" };

/** A pair works when Barman's client tools are at least the server's major version. */
export function isSupported(platform: Platform): boolean {
  return BARMAN_VERSIONS[platform.barman].clientMajor >= Number(platform.postgres);
}

export const SUPPORTED_PAIRS: Platform[] = (Object.keys(POSTGRES_VERSIONS) as PostgresVersion[]).flatMap((postgres) =>
  (Object.keys(BARMAN_VERSIONS) as BarmanVersion[]).map((barman) => ({ postgres, barman })).filter(isSupported),
);

/**
 * The pairs CI drills besides the default one (15+3.13): every Barman with the seed's PostgreSQL 15 (most
 * teams run a newer Barman than their oldest PostgreSQL), and each newer PostgreSQL with the
 * Barman of its own suite.
 */
export const CI_PAIRS: Platform[] = [
  { postgres: "15", barman: "3.4" },
  { postgres: "15", barman: "3.20" },
  { postgres: "17", barman: "3.13" },
  { postgres: "18", barman: "3.20" },
];

/** Incremental backups need PostgreSQL 17+ and Barman 3.11+: each newer PostgreSQL with its suite's Barman. */
export const CI_INCREMENTAL_PAIRS: Platform[] = [
  { postgres: "17", barman: "3.13" },
  { postgres: "18", barman: "3.20" },
];

export const describePlatform = (p: Platform): string => `PostgreSQL ${p.postgres} + Barman ${p.barman}`;
export const platformName = (p: Platform): string => `pg${p.postgres}-barman${p.barman}`;

export class PlatformError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlatformError";
  }
}

/**
 * The platform a drill runs on: PGDRILL_POSTGRES / PGDRILL_BARMAN over the configuration's
 * `postgres.version` / `barman.version` over its `platform` shorthand ("pg17-barman3.13") over
 * the default. Anything unknown or unsupported is one line saying what exists.
 */
export function resolvePlatform(config: { postgres?: string; barman?: string; platform?: string }, env: NodeJS.ProcessEnv = process.env): Platform {
  let fromShorthand: Partial<Platform> = {};
  if (config.platform !== undefined) {
    const match = /^pg(\d+)-barman(\d+\.\d+)$/.exec(config.platform);
    if (!match)
      throw new PlatformError(
        `platform '${config.platform}' is not of the form pg<major>-barman<version>; supported: ${SUPPORTED_PAIRS.map(platformName).join(", ")}`,
      );
    fromShorthand = { postgres: match[1] as PostgresVersion, barman: match[2] as BarmanVersion };
  }
  const postgres = env["PGDRILL_POSTGRES"] || config.postgres || fromShorthand.postgres || DEFAULT_PLATFORM.postgres;
  const barman = env["PGDRILL_BARMAN"] || config.barman || fromShorthand.barman || DEFAULT_PLATFORM.barman;
  if (!(postgres in POSTGRES_VERSIONS)) {
    throw new PlatformError(
      `PostgreSQL ${postgres} is not available; the drill builds PostgreSQL ${Object.keys(POSTGRES_VERSIONS).join(", ")} (Debian has no PostgreSQL 16)`,
    );
  }
  if (!(barman in BARMAN_VERSIONS))
    throw new PlatformError(`Barman ${barman} is not available; the drill builds Barman ${Object.keys(BARMAN_VERSIONS).join(", ")}`);
  const platform = { postgres: postgres as PostgresVersion, barman: barman as BarmanVersion };
  if (!isSupported(platform)) {
    const client = BARMAN_VERSIONS[platform.barman].clientMajor;
    throw new PlatformError(
      `${describePlatform(platform)} is not a supported pair: Barman ${barman}'s PostgreSQL ${client} client tools cannot back up PostgreSQL ${postgres}; supported pairs: ${SUPPORTED_PAIRS.map(describePlatform).join(", ")}`,
    );
  }
  return platform;
}
