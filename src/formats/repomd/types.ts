/** One `<data type=…>` record of repomd.xml. */
export interface RepomdRecord {
  type: string;
  checksumType: string;
  checksum: string;
  openChecksumType?: string;
  openChecksum?: string;
  /** `repodata/<checksum>-<name>` */
  location: string;
  /** xml:base of the location, when any. */
  locationBase?: string;
  timestamp: number;
  size: number;
  openSize?: number;
  databaseVersion?: number;
}

export interface Repomd {
  revision: string;
  /** `<tags>`: content, repo, distro (cpeid + value). */
  tags?: { content?: string[]; repo?: string[]; distro?: { cpeid?: string; value: string }[] };
  records: RepomdRecord[];
}
