// Builds the Fastify application over an open database: decorations, error catalogue, auth, OpenAPI,
// the snapshot service and every route module. No listening, no migrations here (see start.ts).
import { EventEmitter } from 'node:events';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config';
import type { Database, Db } from './db/client';
import { frameworkErrors, MAX_PATH_PARAM_LENGTH, registerErrorHandling } from './errors';
import { lazyChildLoggerFactory } from './logging';
import { authPlugin } from './auth/index';
import { docsPlugin } from './routes/docs';
import { routeModules } from './routes/index';
import { sharedSchemas } from './routes/responses';
import { SnapshotService } from './services/snapshots';
import { StorageHealth } from './services/storage-health';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    database: Database;
    db: Db;
    /** Domain events: 'flag.updated', 'flag.created', 'flag.archived', 'canary.transition', 'snapshot.revision', … */
    events: EventEmitter;
    storage: StorageHealth;
    snapshots: SnapshotService;
  }
}

export interface BuildAppOptions {
  config: Config;
  database: Database;
  /** The admin token the auth plugin accepts (from ensureAdminToken), if known. */
  adminToken?: string | undefined;
  /** Fastify logger option; defaults to the configured LOG_LEVEL. */
  logger?: FastifyServerOptions['logger'];
}

const serializeJson = (data: unknown): string => JSON.stringify(data);

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config, database } = options;
  const app = Fastify({
    logger: options.logger ?? (config.logLevel === 'silent' ? false : { level: config.logLevel }),
    // With a logger, each request's child logger is made on first use (./logging.ts).
    ...((options.logger ?? config.logLevel !== 'silent')
      ? { childLoggerFactory: lazyChildLoggerFactory }
      : {}),
    // Unknown fields are errors (not silently dropped); body types are never coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    bodyLimit: 1024 * 1024,
    forceCloseConnections: true,
    pluginTimeout: 60_000,
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    frameworkErrors,
  });
  const events = new EventEmitter();
  events.setMaxListeners(0);
  app.decorate('config', config);
  app.decorate('database', database);
  app.decorate('db', database.db);
  app.decorate('events', events);
  app.decorate('storage', new StorageHealth(events));
  const snapshots = new SnapshotService({
    database,
    config,
    events,
    storage: app.storage,
    log: app.log,
  });
  app.decorate('snapshots', snapshots);

  registerErrorHandling(app);
  // The API speaks JSON only: anything else is 415 UNSUPPORTED_MEDIA_TYPE, not a string body.
  app.removeContentTypeParser('text/plain');
  // An empty JSON body (POST …/advance-canary sent with Content-Type: application/json) is no body;
  // anything else goes through Fastify's own parser (prototype-poisoning protection included).
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (String(body).trim() === '') return done(null, undefined);
    jsonParser(request, body as string, done);
  });

  // Response schemas document the API (OpenAPI at /docs); they never shape a reply. Fastify would
  // serialise a reply through fast-json-stringify from its response schema, dropping every property the
  // schema does not list and coercing types; this compiler ignores the schema instead, so every reply
  // is JSON.stringify of what the handler returned, as for a route without one. Raw bytes (the
  // snapshot) and hijacked replies (the stream) are never serialised either way.
  app.setSerializerCompiler(() => serializeJson);
  for (const schema of sharedSchemas) app.addSchema(schema);

  // OpenAPI first: the document is built from the routes registered after it.
  await app.register(docsPlugin, { version: '0.1.0' });
  await app.register(authPlugin, { db: database.db, config, adminToken: options.adminToken });

  for (const mod of routeModules) await app.register(mod);

  app.addHook('onReady', async () => {
    await snapshots.start();
  });
  app.addHook('preClose', async () => {
    await snapshots.stop();
  });
  return app;
}
