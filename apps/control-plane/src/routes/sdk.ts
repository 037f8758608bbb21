// SDK endpoints: the environment's snapshot (prebuilt bytes, ETag/304, gzip/brotli) and the SSE
// stream of new revisions (Last-Event-ID resume, heartbeat). Both keep serving the last built
// revision while the database is down, marked with X-Rupaya-Stale: true.
import { revisionOfEtag } from '@rupaya/flags-core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../errors';
import type { BuiltSnapshot, SnapshotRevisionEvent } from '../services/snapshots';
import { responses, SDK, sdkResponses } from './responses';

/** Picks br, then gzip, then identity from Accept-Encoding (q=0 excludes). */
export function chooseEncoding(header: string | undefined): 'br' | 'gzip' | 'identity' {
  if (!header) return 'identity';
  let br = false;
  let gz = false;
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    if (name === 'br') br = true;
    else if (name === 'gzip' || name === 'x-gzip') gz = true;
    else if (name === '*') {
      br = true;
      gz = true;
    }
  }
  return br ? 'br' : gz ? 'gzip' : 'identity';
}

/** If-None-Match matches the ETag (also W/ and lists, and `*`). */
function notModified(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header === etag) return true; // what every SDK sends back
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

async function currentSnapshot(app: FastifyInstance, environment: string): Promise<BuiltSnapshot> {
  let built = app.snapshots.get(environment);
  if (!built) {
    await app.snapshots.refresh(environment);
    built = app.snapshots.get(environment);
  }
  if (!built) throw errors.snapshotNotReady(environment);
  return built;
}

function sendSnapshot(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  built: BuiltSnapshot,
): FastifyReply {
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch !== undefined && ifNoneMatch !== built.etag) {
    // An SDK holding a newer revision than this one: the database went back (see SnapshotService.catchUp).
    const held = revisionOfEtag(ifNoneMatch);
    if (held > built.revision) app.snapshots.catchUp(built.environment, held);
  }
  reply.header('etag', built.etag);
  reply.header('cache-control', 'no-cache');
  reply.header('vary', 'Accept-Encoding');
  reply.header('x-rupaya-revision', built.revisionHeader);
  if (app.snapshots.stale) reply.header('x-rupaya-stale', 'true');
  if (notModified(ifNoneMatch, built.etag)) return reply.code(304).send();
  reply.type('application/json; charset=utf-8');
  const enc = chooseEncoding(request.headers['accept-encoding']);
  if (enc === 'identity') return reply.send(built.identity);
  reply.header('content-encoding', enc);
  return reply.send(enc === 'br' ? built.br : built.gzip);
}

export default async function sdkRoutes(app: FastifyInstance): Promise<void> {
  const open = new Set<FastifyReply>();
  const serve = (request: FastifyRequest, reply: FastifyReply): FastifyReply | Promise<FastifyReply> => {
    const environment = request.sdk!.environment;
    const built = app.snapshots.get(environment);
    if (built !== undefined) return sendSnapshot(app, request, reply, built);
    return currentSnapshot(app, environment).then((b) => sendSnapshot(app, request, reply, b));
  };

  app.get(
    '/api/sdk/v1/snapshot',
    {
      // No preHandler: the route authenticates inline (below), so Fastify calls the handler directly
      // instead of running a hook chain on every poll of every SDK (the OpenAPI security follows the path).
      schema: {
        tags: ['sdk'],
        summary: "The SDK key's environment snapshot (ETag, If-None-Match → 304, gzip/br)",
        // Documentation only: the reply is prebuilt bytes (or no body), which Fastify never serialises.
        response: responses(
          { 200: sdkResponses.snapshot, 304: sdkResponses.notModified },
          ...SDK,
          'SNAPSHOT_NOT_READY',
        ),
      },
    },
    // Not async: with the snapshot in memory (always, after start-up) the reply is sent in the same
    // tick as the request arrived; only a cold environment awaits its first build.
    (request: FastifyRequest, reply: FastifyReply) => {
      const known = app.knownSdkKey(request);
      if (known !== undefined) {
        request.sdk = known;
        return serve(request, reply);
      }
      // Not resolved recently (or not an SDK key): the full check, which may ask the database.
      app.requireSdkKey(request, reply, (err) => {
        if (err) reply.send(err);
        else serve(request, reply);
      });
      return reply;
    },
  );

  app.get(
    '/api/sdk/v1/stream',
    {
      preHandler: app.requireSdkKey,
      schema: {
        tags: ['sdk'],
        summary: 'Server-sent events: `snapshot` event per new revision (id = revision), heartbeat comments',
        // Documentation only: the stream is written to the raw response (hijacked).
        response: responses({ 200: sdkResponses.stream }, ...SDK, 'SNAPSHOT_NOT_READY'),
      },
    },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const environment = request.sdk!.environment;
      const built = await currentSnapshot(app, environment);
      const lastHeader =
        request.headers['last-event-id'] ?? (request.query as { lastEventId?: string }).lastEventId;
      const last =
        typeof lastHeader === 'string' && /^\d{1,15}$/.test(lastHeader.trim()) ? Number(lastHeader) : -1;
      // An SDK resuming past this revision: the database went back (see SnapshotService.catchUp).
      if (last > built.revision) app.snapshots.catchUp(environment, last);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        ...(app.snapshots.stale ? { 'x-rupaya-stale': 'true' } : {}),
      });
      res.write(`retry: 1000\n\n`);
      let sent = last;
      const push = (b: BuiltSnapshot) => {
        if (b.revision <= sent) return;
        sent = b.revision;
        res.write(b.sseFrame);
      };
      push(built);
      const onRevision = (e: SnapshotRevisionEvent) => {
        if (e.environment !== environment) return;
        const b = app.snapshots.get(environment);
        if (b) push(b);
      };
      app.events.on('snapshot.revision', onRevision);
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), app.config.sseHeartbeatMs);
      open.add(reply);
      const cleanup = () => {
        clearInterval(heartbeat);
        app.events.off('snapshot.revision', onRevision);
        open.delete(reply);
      };
      res.on('close', cleanup);
      res.on('error', cleanup);
    },
  );

  app.addHook('preClose', async () => {
    for (const reply of open) reply.raw.end();
    open.clear();
  });
}
