/** Settings → engine options: light (type imports only), so the CLI can import it statically. */
import type { EngineOptions } from '../engine/types.js';
import type { Settings } from './index.js';

/** The engine options the settings give (every command opens the engine with these). */
export function engineOptionsOf(settings: Settings): Pick<EngineOptions, 'dataDir' | 'configDir' | 'pluginsDir' | 'pluginPackages' | 'pluginNodeModules' | 'publishRoot' | 'baseUrls' | 'lock'> {
  return {
    dataDir: settings.dataDir,
    configDir: settings.configDir,
    pluginsDir: settings.pluginsDir,
    pluginPackages: settings.pluginPackages,
    pluginNodeModules: settings.pluginNodeModules,
    publishRoot: settings.publishRoot,
    baseUrls: settings.baseUrls,
    lock: { wait: settings.lock.wait, timeoutSec: settings.lock.timeoutSec },
  };
}
