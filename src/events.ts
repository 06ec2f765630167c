/**
 * Typed progress events. The source, engine and push emit them; only the CLI renders them
 * (ora spinner on a TTY, plain lines or NDJSON otherwise). Library code never writes to the console.
 */
export type Phase = 'load' | 'checksum' | 'validate' | 'plan' | 'import' | 'publish' | 'sync' | 'upload' | 'copy' | 'remove' | 'gc' | 'fsck' | 'lock' | 'hook' | 'plugin-hook' | 'agent' | string;

export type ProgressEvent =
  | { type: 'phase-start'; phase: Phase; total?: number; label?: string; repo?: string }
  | { type: 'phase-progress'; phase: Phase; done: number; total?: number; label?: string; repo?: string }
  | { type: 'phase-end'; phase: Phase; done?: number; total?: number; label?: string; repo?: string; ok?: boolean }
  | { type: 'task'; taskId: string; kind: string; repo?: string | null; state: string }
  | { type: 'progress'; taskId?: string; repo?: string | null; progress: unknown }
  | { type: 'waiting'; resource: string; owner?: string; label?: string }
  | { type: 'warning'; code?: string; message: string; file?: string }
  | { type: 'info'; message: string };

export type EventSink = (event: ProgressEvent) => void;

export const nullSink: EventSink = () => {};
