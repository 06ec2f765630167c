/** The configuration file, after schema validation and defaults (snake_case, as written). */

export type RepoKind = 'yum' | 'file' | 'directory';
export type PushMode = 'additive' | 'mirror';
export type DuplicateNevra = 'replace' | 'refuse';

export interface DistributorConfigEntry {
  id?: string;
  type_id: string;
  auto_publish?: boolean;
  config?: Record<string, unknown>;
}

export interface ImporterConfigEntry {
  type_id: string;
  config?: Record<string, unknown>;
}

export interface RepoShape {
  type?: RepoKind;
  display_name?: string;
  description?: string;
  notes?: Record<string, string>;
  importer?: ImporterConfigEntry;
  distributors?: DistributorConfigEntry[];
  push_mode?: PushMode;
  retain_old_count?: number;
  duplicate_nevra?: DuplicateNevra;
  retain_repo_versions?: number;
  template?: string;
}

export interface RepositoryConfigEntry extends RepoShape {
  destinations?: string[];
}

export type HookCommand = string | string[];

export interface StagepushConfig {
  data_dir?: string;
  config_dir?: string;
  log_retention_days: number;
  unknown_destination: string;
  allowed_signing_keys: string[];
  allow_unsigned: boolean;
  destinations: { include?: string[]; exclude: string[] };
  repositories: Record<string, RepositoryConfigEntry>;
  templates: Record<string, RepoShape>;
  hooks: { post_publish: HookCommand[]; timeout: number };
  publish: { root?: string; base_url_http?: string; base_url_https?: string };
  plugins: { dir?: string; packages: string[]; node_modules?: string };
  lock: { wait: boolean; timeout?: number };
  push: { threads?: number; timeout: number; free_space_margin_mb: number; bump_errata: boolean; pre_push_retention_hours: number; store_files: 'link' | 'copy' };
  agent: { conf_d: string; handlers_dir: string; log: string };
}

/** A loaded configuration with where it came from. */
export interface LoadedConfig {
  config: StagepushConfig;
  /** The file read, or null for the embedded default. */
  file: string | null;
  /** Files looked at, in order (for messages). */
  searched: string[];
  /** The --config / $STAGEPUSH_CONFIG path, when one was given. */
  explicit?: string | null;
}
