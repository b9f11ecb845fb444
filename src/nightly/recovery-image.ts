// The throwaway instance of a nightly verification must run the backup's own PostgreSQL major
// version (a data directory starts only under its major). The version comes from Barman's
// metadata (show-backup); the image is this suite's for 15, 17 and 18, or PGDRILL_RECOVERY_IMAGE:
// any image honouring the official postgres image's contract (e.g. postgres:16 where a registry is
// reachable).
import { ensureImages, type ProgressSink } from "../../containers/images.ts";
import { BARMAN_VERSIONS, type BarmanVersion, DEFAULT_PLATFORM, POSTGRES_VERSIONS, type PostgresVersion, SUPPORTED_PAIRS } from "../../containers/platforms.ts";

export class RecoveryImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RecoveryImageError";
  }
}

/** PostgreSQL's numeric version (150020, or 90624 before 10) as its major version. */
export function postgresMajor(version: number): number {
  if (!Number.isInteger(version) || version < 90000) throw new RecoveryImageError(`'${version}' is not a PostgreSQL version number`);
  return version >= 100000 ? Math.floor(version / 10000) : Math.floor(version / 100) / 100;
}

/**
 * The plan for a major version: the override, this suite's platform image, or a one-line refusal
 * naming the version and PGDRILL_RECOVERY_IMAGE.
 */
export function recoveryImagePlan(
  major: number,
  override: string | undefined,
): { kind: "override"; image: string } | { kind: "platform"; postgres: PostgresVersion; barman: BarmanVersion } {
  if (override) return { kind: "override", image: override };
  const postgres = String(major) as PostgresVersion;
  if (!(postgres in POSTGRES_VERSIONS)) {
    throw new RecoveryImageError(
      `the backup is of PostgreSQL ${major}, which this suite has no image for (it builds ${Object.keys(POSTGRES_VERSIONS).join(", ")}); set PGDRILL_RECOVERY_IMAGE to an image that honours the official postgres image's contract, e.g. PGDRILL_RECOVERY_IMAGE=postgres:${major}`,
    );
  }
  // The image build goes by pair; the Barman half is not used here: the default pair's where it
  // has this PostgreSQL (already built), else the Barman of the version's own suite.
  const pair =
    DEFAULT_PLATFORM.postgres === postgres
      ? DEFAULT_PLATFORM
      : SUPPORTED_PAIRS.find((p) => p.postgres === postgres && BARMAN_VERSIONS[p.barman].suite === POSTGRES_VERSIONS[postgres].suite)!;
  return { kind: "platform", postgres, barman: pair.barman };
}

/** Resolves (and builds on first use) the throwaway instance's image for a backup's major version. */
export function recoveryImageResolver(options: { override?: string; baseOverride?: string; progress: ProgressSink }): (major: number) => Promise<string> {
  return async (major) => {
    const plan = recoveryImagePlan(major, options.override);
    if (plan.kind === "override") return plan.image;
    const { images } = await ensureImages({
      platform: { postgres: plan.postgres, barman: plan.barman },
      baseOverride: options.baseOverride,
      progress: options.progress,
    });
    return images.postgres;
  };
}
