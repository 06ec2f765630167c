/**
 * Linux system handler. reboot schedules a reboot and returns at once:
 *   reboot_delay    seconds to wait (configuration or option; default 60)
 *   reboot_command  a shell command run after reboot_delay seconds (detached, so the agent does
 *                   not wait). Without it, `shutdown -r +N` runs at once with N = the delay in
 *                   whole minutes (rounded up), and shutdown does the waiting.
 * The report says what was scheduled: the command, the delay and the time it runs.
 */
import { spawn } from 'node:child_process';
import { SystemHandler, type HandlerConduit, type HandlerOptions } from '../handler.js';
import { RebootReport } from '../reports.js';

export class LinuxHandler extends SystemHandler {
  reboot(conduit: HandlerConduit, options: HandlerOptions): RebootReport {
    const rawDelay = this.setting(options, 'reboot_delay', '60')!;
    const delay = Number(rawDelay);
    if (!Number.isFinite(delay) || delay < 0) throw new Error(`reboot_delay: expected a number of seconds >= 0, got "${rawDelay}"`);
    const custom = this.setting(options, 'reboot_command');
    let shell: string;
    let command: string;
    if (custom && custom.trim()) {
      command = custom.trim();
      shell = delay > 0 ? `sleep ${delay}; ${command}` : command;
    } else {
      const minutes = Math.ceil(delay / 60);
      command = `shutdown -r +${minutes}`;
      shell = command;
    }
    const child = spawn('/bin/sh', ['-c', shell], { detached: true, stdio: 'ignore', cwd: '/' });
    child.on('error', (e) => conduit.log.error(`reboot command failed to start: ${e.message}`));
    child.unref();
    const at = new Date(Date.now() + delay * 1000).toISOString();
    conduit.log.warn(`reboot scheduled for ${at}: ${command}${custom ? ` (after ${delay} s)` : ''}`);
    return new RebootReport().setSucceeded({ scheduled: true, command, delay, at, pid: child.pid ?? null }, 0);
  }
}
