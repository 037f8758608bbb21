/** Anything with these four methods works: console, pino, winston. */
export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

const prefix = '[rupaya-flags]';

/** Default: warnings and errors to stderr, nothing else. */
export const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn(message, meta) {
    console.warn(prefix, message, meta ?? '');
  },
  error(message, meta) {
    console.error(prefix, message, meta ?? '');
  },
};

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
