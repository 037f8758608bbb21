// DB seed of the 1,000-flag bench configuration: each flag validated by core exactly as the admin API
// does (validateFlag strict, canary state initialised), then written as rows of feature_flags and
// flag_configs (one environment). Creating 1,000 flags through the admin API rewrites the whole
// environment snapshot per create (O(n²)), far too slow for a bounded bench — see README notes.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const quote = (s) => (s === null || s === undefined ? 'NULL' : `'${String(s).replaceAll("'", "''")}'`);
const jsonb = (v) => (v === null || v === undefined ? 'NULL' : `$rj$${JSON.stringify(v)}$rj$::jsonb`);

export async function seedSql(flags, environment, actor = 'bench-seed') {
  const core = await import('@rupaya/flags-core');
  const lines = ['BEGIN;'];
  for (const input of flags) {
    const body = { ...input };
    if (Array.isArray(body.stages) && body.stages.length > 0) body.canary = core.initialCanaryState();
    const checked = core.validateFlag(body, '', { strict: true });
    if (!checked.ok) throw new Error(`bench flag ${input.key} invalid: ${JSON.stringify(checked.errors[0])}`);
    const { key, type, description, tags, version: _v, ...rest } = checked.flag;
    const config = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined && v !== null));
    lines.push(
      `INSERT INTO feature_flags (key, type, description, tags, created_by) VALUES (${quote(key)}, ${quote(type)}, ${quote(description)}, ${jsonb(tags ?? null)}, ${quote(actor)});`,
      `INSERT INTO flag_configs (flag_key, environment, config, updated_by) VALUES (${quote(key)}, ${quote(environment)}, ${jsonb(config)}, ${quote(actor)});`,
    );
  }
  lines.push('COMMIT;');
  return lines.join('\n');
}

/** Applies SQL to a PGlite data folder with the control plane's own PGlite (server stopped). */
export async function applyToPglite(dataDir, sqlText) {
  const require = createRequire(
    fileURLToPath(new URL('../../apps/control-plane/package.json', import.meta.url)),
  );
  const { PGlite } = await import(require.resolve('@electric-sql/pglite'));
  const db = new PGlite(dataDir);
  try {
    await db.exec(sqlText);
  } finally {
    await db.close();
  }
}
