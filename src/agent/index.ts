/**
 * The consumer agent: handler descriptors, the handler base classes and reports, the dispatcher
 * and the consumer operations. See README "Consumer agent".
 */
import { Agent } from './agent.js';
import { createLogger } from './log.js';
import { loadHandlers, type HandlerRegistry } from './loader.js';
import type { AgentSettings } from './settings.js';

export { Agent, type ContentOperation } from './agent.js';
export { ConsumerService } from './consumers.js';
export { handlerApi, type HandlerApi } from './api.js';
export * from './handler.js';
export * from './reports.js';
export type * from './engine-api.js';
export { loadHandlers, DEFAULT_CONF_DIR, DEFAULT_HANDLERS_DIR, BUILTIN_CONF_DIR, BUILTIN_MODULE, type HandlerRegistry, type LoadedHandler, type DescriptorStatus } from './loader.js';
export { resolveAgentSettings, type AgentSettings, type AgentConfigSection } from './settings.js';
export { parseUnit, parseRpmUnit, parseOptions } from './units.js';
export { createLogger, parseLogTarget } from './log.js';

/** Load the handlers for these settings and make the dispatcher. */
export async function openAgent(
  settings: AgentSettings,
  types: { contentTypes: ReadonlySet<string>; distributorTypes: ReadonlySet<string> },
  opts: { osType?: string; debug?: boolean } = {},
): Promise<{ agent: Agent; registry: HandlerRegistry }> {
  const registry = await loadHandlers({
    confDir: settings.confDir,
    handlersDir: settings.handlersDir,
    confDirRequired: settings.confDirExplicit,
    contentTypes: types.contentTypes,
    distributorTypes: types.distributorTypes,
  });
  const log = createLogger(settings.log, { debug: opts.debug });
  for (const p of registry.problems) log.error(`handler descriptor refused: ${p.file ? `${p.file}: ` : ''}[${p.code}] ${p.message}`);
  return { agent: new Agent(registry, log, { osType: opts.osType }), registry };
}
