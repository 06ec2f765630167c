/**
 * Where the agent finds its descriptors and handler modules, and where it logs. Each setting:
 * command-line option > environment > config file (`agent:` section) > default.
 *   --agent-conf-dir      STAGEPUSH_AGENT_CONF_DIR      agent.conf_d        /etc/stagepush/agent/conf.d
 *   --agent-handlers-dir  STAGEPUSH_AGENT_HANDLERS_DIR  agent.handlers_dir  /usr/lib/stagepush/agent/handlers
 *   --agent-log           STAGEPUSH_AGENT_LOG           agent.log           syslog
 */
import path from 'node:path';
import { DEFAULT_CONF_DIR, DEFAULT_HANDLERS_DIR } from './loader.js';
import { checkLogTarget, parseLogTarget, type LogTarget } from './log.js';

export interface AgentSettings {
  confDir: string;
  /** True when the conf.d directory was configured (a missing one is then reported). */
  confDirExplicit: boolean;
  handlersDir: string;
  log: LogTarget;
}

export interface AgentConfigSection {
  conf_d?: string;
  handlers_dir?: string;
  log?: string;
}

function pick(flag: unknown, env: string | undefined, file: string | undefined): string | undefined {
  return pickWhere(flag, env, file, '', '', '')?.value;
}

/** pick(), saying which one gave the value. */
function pickWhere(flag: unknown, env: string | undefined, file: string | undefined, flagName: string, envName: string, fileName: string): { value: string; where: string } | undefined {
  if (typeof flag === 'string' && flag.trim()) return { value: flag, where: flagName };
  if (env && env.trim()) return { value: env, where: envName };
  if (file && file.trim()) return { value: file, where: fileName };
  return undefined;
}

export function resolveAgentSettings(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env, fromConfig: AgentConfigSection = {}): AgentSettings {
  const conf = pick(raw.agentConfDir, env.STAGEPUSH_AGENT_CONF_DIR, fromConfig.conf_d);
  const handlers = pick(raw.agentHandlersDir, env.STAGEPUSH_AGENT_HANDLERS_DIR, fromConfig.handlers_dir);
  const log = pickWhere(raw.agentLog, env.STAGEPUSH_AGENT_LOG, fromConfig.log, '--agent-log', 'STAGEPUSH_AGENT_LOG', 'agent.log in the config file');
  const target = parseLogTarget(log?.value, log?.where);
  // Before any operation: a log file that cannot be written refuses the command (see log.ts).
  checkLogTarget(target, log?.where);
  return {
    confDir: path.resolve(conf ?? DEFAULT_CONF_DIR),
    confDirExplicit: conf !== undefined,
    handlersDir: path.resolve(handlers ?? DEFAULT_HANDLERS_DIR),
    log: target,
  };
}
