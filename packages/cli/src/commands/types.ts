import type { CommandContext } from '../context';

export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  short?: string;
}

export interface Command {
  /** Words after `rupaya`, e.g. `flags list`. */
  name: string;
  usage: string;
  summary: string;
  options?: Record<string, OptionSpec>;
  /** Extra help text (examples, notes). */
  details?: string;
  run(ctx: CommandContext): Promise<void>;
}

export const reasonOption: Record<string, OptionSpec> = {
  reason: { type: 'string', description: 'why (stored in the audit log)' },
};
