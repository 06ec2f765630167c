/**
 * Handler reports (Pulp's agent report classes). Every handler method returns one; `succeeded`
 * defaults to true, `details` holds the result, `numChanges` counts the changes made to the
 * consumer. Handlers update a report with `setSucceeded(details, numChanges)` or
 * `setFailed(details)`.
 */
export type ReportDetails = Record<string, unknown>;

export class HandlerReport {
  succeeded = true;
  details: ReportDetails = {};
  numChanges = 0;

  /** Mark the report successful, merging `details` and setting the number of changes. */
  setSucceeded(details: ReportDetails = {}, numChanges = 0): this {
    this.succeeded = true;
    this.details = { ...this.details, ...details };
    this.numChanges = numChanges;
    return this;
  }

  /** Mark the report failed, merging `details` (e.g. `{ message, trace }`). */
  setFailed(details: ReportDetails = {}): this {
    this.succeeded = false;
    this.details = { ...this.details, ...details };
    return this;
  }

  /** The report's kind, e.g. "ContentReport". */
  get kind(): string {
    return this.constructor.name;
  }

  toJSON(): Record<string, unknown> {
    return { report: this.kind, succeeded: this.succeeded, numChanges: this.numChanges, details: this.details };
  }
}

/** What a content change asks of the system (Pulp's reboot-scheduled flag). */
export interface RebootRequest {
  /** The change needs a reboot (a package in the reboot list changed, or `reboot` was asked). */
  required: boolean;
  /** Rebooting was permitted (`permit_reboot`), so the agent scheduled one. */
  permitted: boolean;
  scheduled: boolean;
  /**
   * What the content handler said of it (the rpm handler: `packages` needing the reboot) and, once
   * the agent asked the system handler for the reboot, that handler's report beside it (`report`,
   * `succeeded`, `numChanges`, `details`).
   */
  details?: ReportDetails;
}

/** install / update / uninstall. */
export class ContentReport extends HandlerReport {
  reboot: RebootRequest = { required: false, permitted: false, scheduled: false };

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), reboot: this.reboot };
  }
}

/** profile: `details` is the installed content profile. */
export class ProfileReport extends HandlerReport {}

/** bind / unbind. */
export class BindReport extends HandlerReport {}

/** clean. */
export class CleanReport extends HandlerReport {}

/** reboot. */
export class RebootReport extends HandlerReport {}

/**
 * Several handlers' reports as one (clean on every bind handler): succeeded only when each did,
 * numChanges summed, details keyed by type id.
 */
export class AggregateReport extends HandlerReport {
  readonly parts: Record<string, HandlerReport> = {};

  add(key: string, report: HandlerReport): void {
    this.parts[key] = report;
    if (!report.succeeded) this.succeeded = false;
    this.numChanges += report.numChanges;
    this.details[key] = report.toJSON();
  }
}
