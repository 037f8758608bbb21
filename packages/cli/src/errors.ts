/** A usage error: bad arguments or options. Exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(
    message: string,
    readonly helpFor?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An error answered by the control plane (`{ error: { code, message, field? } }`) or a failed request. Exit code 1. */
export class CliApiError extends Error {
  readonly exitCode = 1;
  /** Set when the command already printed its own `--json` answer (e.g. setup's report). */
  reported = false;
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'CliApiError';
  }

  toJSON(): { error: { code: string; message: string; status?: number; field?: string } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.status !== undefined ? { status: this.status } : {}),
        ...(this.field !== undefined ? { field: this.field } : {}),
      },
    };
  }
}
