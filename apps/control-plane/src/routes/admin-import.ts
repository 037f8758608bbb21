// Flags as code: `POST /api/admin/deployment/feature-flags:import` applies a whole flags file (every
// environment's flags, as `rupaya flags import` sends them) in ONE transaction: every create/update and its
// audit row commit together or not at all. `dryRun: true` runs the same writes and rolls them back, so the
// answer is exactly what would happen, validation included. Uses the flags service for every write.
import { covers } from '@rupaya/flags-core';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/client';
import { writeTransaction } from '../db/retry';
import { ApiError, errors } from '../errors';
import { createFlag, type FlagInEnvironment, getFlag, updateFlag } from '../services/flags';
import { lockEnvironments, RevisionBatch } from '../services/snapshots';
import { actorOf, environmentQuery, reasonSchema } from './common';
import { ADMIN, BODY, flagResponses, responses } from './responses';

// `::` is Fastify's escape for a literal `:` in a path.
const ROUTE = '/api/admin/deployment/feature-flags::import';

/** Set by the route, owned by the scheduler/canary actions: never written by an import of an existing flag. */
const NOT_IMPORTED = new Set(['key', 'type', 'version', 'canary']);

export interface ImportChange {
  environment: string;
  key: string;
  action: 'create' | 'update' | 'unchanged';
  fields: string[];
}

class DryRunRollback extends Error {}

function located(err: unknown, environment: string, index: number): unknown {
  if (!(err instanceof ApiError) || err.statusCode >= 500) return err;
  const at = `environments.${environment}[${index}]`;
  return new ApiError(
    err.statusCode,
    err.code,
    `${at}: ${err.message}`,
    err.field ? `${at}.${err.field}` : at,
    err.headers,
  );
}

async function findFlag(db: Db, environment: string, key: string): Promise<FlagInEnvironment | undefined> {
  try {
    return await getFlag(db, environment, key);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'FLAG_NOT_FOUND') return undefined;
    throw err;
  }
}

export async function importFlags(
  db: Db,
  input: {
    environments: Record<string, Record<string, unknown>[]>;
    actor: string;
    reason?: string | undefined;
    dryRun: boolean;
  },
): Promise<{
  changes: ImportChange[];
  revisions: Record<string, number>;
  /** Per created flag: the revision it landed in, per environment (a create spans every environment). */
  created: Record<string, Record<string, number>>;
}> {
  let changes: ImportChange[] = [];
  let revisions: Record<string, number> = {};
  let created: Record<string, Record<string, number>> = {};
  const note = (r: Record<string, number>) => {
    for (const [env, rev] of Object.entries(r)) revisions[env] = Math.max(revisions[env] ?? 0, rev);
  };
  try {
    await writeTransaction(db, async (txRaw) => {
      // A rerun (after a deadlock) starts over.
      changes = [];
      revisions = {};
      created = {};
      // Creates touch every environment: lock them all first, in key order (the flags service's lock order).
      await lockEnvironments(txRaw);
      // The flags service opens its own (nested, savepoint) transactions inside this one. Its writes
      // promise the revision they land in; one revision per environment is built at the end.
      const tx = txRaw as unknown as Db;
      const batch = new RevisionBatch();
      for (const [environment, flags] of Object.entries(input.environments)) {
        for (const [index, want] of flags.entries()) {
          try {
            const key = want.key;
            if (typeof key !== 'string' || key.length === 0)
              throw errors.validation('key', 'key is required');
            const current = await findFlag(tx, environment, key);
            if (!current) {
              const { canary: _state, version: _version, ...body } = want;
              const made = await createFlag(
                tx,
                { body, actor: input.actor, reason: input.reason, batch },
                environment,
              );
              note(made.revisions);
              created[key] = made.revisions;
              changes.push({
                environment,
                key,
                action: 'create',
                fields: Object.keys(body).filter((f) => f !== 'key'),
              });
              continue;
            }
            if (want.type !== undefined && want.type !== current.flag.type) {
              throw errors.validation(
                'type',
                `type cannot be changed (${current.flag.type} → ${String(want.type)})`,
              );
            }
            const have = current.flag as unknown as Record<string, unknown>;
            const patch: Record<string, unknown> = {};
            for (const [field, value] of Object.entries(want)) {
              if (NOT_IMPORTED.has(field) || value === undefined) continue;
              if (!covers(value, have[field])) patch[field] = value;
            }
            if (Object.keys(patch).length === 0) {
              changes.push({ environment, key, action: 'unchanged', fields: [] });
              continue;
            }
            const updated = await updateFlag(tx, {
              environment,
              key,
              patch,
              actor: input.actor,
              reason: input.reason,
              batch,
            });
            note(updated.revisions);
            changes.push({ environment, key, action: 'update', fields: Object.keys(patch) });
          } catch (err) {
            throw located(err, environment, index);
          }
        }
      }
      if (input.dryRun) throw new DryRunRollback();
      note(await batch.flush(txRaw, `import by ${input.actor}`));
    });
  } catch (err) {
    if (!(err instanceof DryRunRollback)) throw err;
    return { changes, revisions: {}, created: {} };
  }
  return { changes, revisions, created };
}

export default async function adminImportRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    ROUTE,
    {
      preHandler: app.requireRole('editor'),
      schema: {
        tags: ['flags'],
        summary:
          'Apply flags as code: every environment’s flags in one audited transaction (dryRun: roll back)',
        body: {
          type: 'object',
          required: ['environments'],
          additionalProperties: false,
          properties: {
            environments: {
              type: 'object',
              propertyNames: environmentQuery,
              additionalProperties: {
                type: 'array',
                maxItems: 5000,
                items: { type: 'object', required: ['key'], properties: { key: { type: 'string' } } },
              },
            },
            reason: reasonSchema,
            dryRun: { type: 'boolean' },
          },
        },
        response: responses(
          { 200: flagResponses.import },
          ...ADMIN,
          ...BODY,
          'ENVIRONMENT_NOT_FOUND',
          'FLAG_NOT_FOUND',
          'VERSION_CONFLICT',
        ),
      },
    },
    async (request) => {
      const body = request.body as {
        environments: Record<string, Record<string, unknown>[]>;
        reason?: string;
        dryRun?: boolean;
      };
      const actor = actorOf(request);
      const dryRun = body.dryRun === true;
      const result = await importFlags(app.db, {
        environments: body.environments,
        actor,
        reason: body.reason,
        dryRun,
      });
      if (!dryRun) {
        await Promise.all(Object.keys(result.revisions).map((env) => app.snapshots.refresh(env)));
        for (const c of result.changes) {
          if (c.action === 'create') {
            const revisions = result.created[c.key] ?? {};
            app.events.emit('flag.created', {
              key: c.key,
              environments: Object.keys(revisions),
              version: 1,
              actor,
              revisions,
            });
          }
          if (c.action === 'update')
            app.events.emit('flag.updated', { key: c.key, environment: c.environment, actor });
        }
      }
      return { applied: !dryRun, dryRun, changes: result.changes, revisions: result.revisions };
    },
  );
}
