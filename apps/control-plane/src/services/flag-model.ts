// How a core Flag maps onto storage: the definition (key, type, description, tags) is shared by every
// environment; everything else is one environment's configuration, stored as JSON under core's names.
import type { Flag } from '@rupaya/flags-core';
import type { featureFlags, flagConfigs } from '../db/schema/index';

export const DEFINITION_FIELDS = ['key', 'type', 'description', 'tags'] as const;

type DefinitionRow = typeof featureFlags.$inferSelect;
type ConfigRow = typeof flagConfigs.$inferSelect;

/** The flag as core sees it, in one environment (version = the configuration's version). */
export function toFlag(def: DefinitionRow, cfg: ConfigRow): Flag {
  const flag: Record<string, unknown> = { key: def.key, type: def.type };
  if (def.description != null) flag.description = def.description;
  if (def.tags != null && def.tags.length > 0) flag.tags = def.tags;
  for (const [k, v] of Object.entries(cfg.config)) {
    if (v !== undefined && v !== null && !(DEFINITION_FIELDS as readonly string[]).includes(k)) flag[k] = v;
  }
  flag.version = cfg.version;
  return flag as unknown as Flag;
}

/** Splits a flag into its definition columns and its per-environment configuration JSON. */
export function splitFlag(flag: Flag): {
  definition: { key: string; type: string; description: string | null; tags: string[] | null };
  config: Record<string, unknown>;
} {
  const { key, type, description, tags, version: _version, ...rest } = flag;
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined && v !== null) config[k] = v;
  return {
    definition: { key, type, description: description ?? null, tags: tags ?? null },
    config,
  };
}

/** Is the flag a canary (has stages)? */
export function isCanary(flag: Flag): boolean {
  return Array.isArray(flag.stages) && flag.stages.length > 0;
}
