// The recovery volume as the drill uses it: one directory per recovered instance, written by
// barman recover on the Barman server and read by the recovered instance's container. Every file
// operation goes through the Barman server as root (the volume is mounted there), with paths built
// from names this module checks, never from free text.

import type { BarmanClient } from "../../containers/barman/barman-client.ts";
import { RECOVERY_MOUNT } from "../../containers/barman/barman-container.ts";

/** A directory name in the recovery volume, or a path below one (letters, digits, . _ - and /, no ..). */
const RECOVERY_PATH = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

export function recoveryPath(path: string): string {
  if (!RECOVERY_PATH.test(path) || path.split("/").includes("..")) throw new Error(`not a path in the recovery volume: ${path}`);
  return `${RECOVERY_MOUNT}/${path}`;
}

export class RecoveryVolume {
  constructor(private readonly barman: BarmanClient) {}

  /** A directory for one recovered instance, owned by barman; its path on the Barman server. */
  async prepare(name: string): Promise<string> {
    const path = recoveryPath(name);
    await this.barman.shell(`install -d -o barman -g barman -m 0700 ${path}`, { user: "root" });
    return path;
  }

  async remove(name: string): Promise<void> {
    await this.barman.shell(`rm -rf ${recoveryPath(name)}`, { user: "root" });
  }

  async exists(path: string): Promise<boolean> {
    return (await this.barman.shell(`test -e ${recoveryPath(path)} && echo yes || true`, { user: "root" })) === "yes";
  }

  async readFile(name: string, file: string): Promise<string> {
    return this.barman.shell(`cat ${recoveryPath(`${name}/${file}`)}`, { user: "root" });
  }

  /** Removes a setting from a recovered copy's postgresql.auto.conf before its start (what ALTER SYSTEM RESET would do). */
  async removeSetting(name: string, setting: string): Promise<void> {
    if (!/^[a-z_]+$/.test(setting)) throw new Error(`not a setting name: ${setting}`);
    await this.barman.shell(`sed -i '/^${setting} = /d' ${recoveryPath(`${name}/postgresql.auto.conf`)}`, { user: "root" });
  }

  /**
   * Barman's restore command for a remote recovery with --get-wal (barman-wal-restore over SSH, from
   * the barman-cli package), in place of the local `barman get-wal` a restore on the Barman host writes.
   */
  async useBarmanWalRestore(name: string): Promise<string> {
    const command = `barman-wal-restore -P -U barman barman ${this.barman.serverName} %f %p`;
    await this.barman.shell(`sed -i "s|^restore_command = .*|restore_command = '${command}'|" ${recoveryPath(`${name}/postgresql.auto.conf`)}`, {
      user: "root",
    });
    return command;
  }
}
