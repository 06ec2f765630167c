/**
 * Linux system handler. reboot schedules a reboot and returns at once:
 *   reboot_delay    seconds to wait (configuration or option; default 60)
 *   reboot_command  a shell command run after reboot_delay seconds (detached, so the agent does
 *                   not wait, and cannot know how it ends: the report says it was started). Without
 *                   it, `shutdown -r +N` runs at once with N = the delay in whole minutes (rounded
 *                   up); shutdown does the waiting, and its exit status says whether the reboot is
 *                   scheduled (a refusal is a failed report with its output).
 * The report says what was scheduled: the command, the delay and the time it runs. The agent
 * calls it only for a consumer whose root is / (this host): see Agent.reboot.
 */
import { spawn } from 'node:child_process';
import { SystemHandler, settingChecks, type HandlerConduit, type HandlerOptions } from '../handler.js';
import { RebootReport } from '../reports.js';
import { run, tail } from '../exec.js';

export class LinuxHandler extends SystemHandler {
  static override readonly settings = { reboot_delay: settingChecks.seconds, reboot_command: settingChecks.any };

  async reboot(conduit: HandlerConduit, options: HandlerOptions): Promise<RebootReport> {
    const rawDelay = this.setting(options, 'reboot_delay', '60')!;
    const delay = Number(rawDelay);
    // An empty value is not 0 (an immediate reboot): refused as any other bad value.
    if (!rawDelay.trim() || !Number.isFinite(delay) || delay < 0) throw new Error(`reboot_delay: expected a number of seconds >= 0, got "${rawDelay}"`);
    const custom = this.setting(options, 'reboot_command');
    if (custom && custom.trim()) {
      const command = custom.trim();
      const child = spawn('/bin/sh', ['-c', delay > 0 ? `sleep ${delay}; ${command}` : command], { detached: true, stdio: 'ignore', cwd: '/' });
      child.on('error', (e) => conduit.log.error(`reboot command failed to start: ${e.message}`));
      child.unref();
      const at = new Date(Date.now() + delay * 1000).toISOString();
      conduit.log.warn(`reboot scheduled for ${at}: ${command} (after ${delay} s)`);
      return new RebootReport().setSucceeded({ scheduled: true, command, delay, at, pid: child.pid ?? null }, 0);
    }
    // shutdown counts in whole minutes: the reboot happens that many minutes from now.
    const minutes = Math.ceil(delay / 60);
    const command = `shutdown -r +${minutes}`;
    let res: Awaited<ReturnType<typeof run>>;
    try {
      res = await run('shutdown', ['-r', `+${minutes}`], { signal: conduit.signal, cwd: '/' });
    } catch (e) {
      conduit.log.error(`reboot not scheduled: ${(e as Error).message}`);
      return new RebootReport().setFailed({ scheduled: false, command, message: (e as Error).message });
    }
    if (res.code !== 0) {
      const output = tail(`${res.stdout}${res.stderr}`);
      const message = `${command} failed (${res.signal ? `signal ${res.signal}` : `exit ${res.code}`})${output ? `: ${output}` : ''}`;
      conduit.log.error(`reboot not scheduled: ${message}`);
      return new RebootReport().setFailed({ scheduled: false, command, exit_status: res.code, message, output });
    }
    const at = new Date(Date.now() + minutes * 60_000).toISOString();
    conduit.log.warn(`reboot scheduled for ${at}: ${command}`);
    return new RebootReport().setSucceeded({ scheduled: true, command, delay: minutes * 60, requested_delay: delay, at }, 0);
  }
}
