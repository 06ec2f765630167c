import type { Command } from 'commander';
import * as ls from './ls.js';
import * as repo from './repo.js';
import * as content from './content.js';
import * as task from './task.js';
import * as maintenance from './maintenance.js';
import * as plugins from './plugins.js';
import * as push from './push.js';
import * as config from './config.js';
import * as serve from './serve.js';
import * as consumer from './consumer.js';
import * as agent from './agent.js';

/** Every command group, in the order `--help` lists them. Each file only declares commands. */
export function registerCommands(program: Command): void {
  for (const group of [ls, push, repo, content, task, maintenance, plugins, config, serve, consumer, agent]) {
    group.register(program);
  }
}
