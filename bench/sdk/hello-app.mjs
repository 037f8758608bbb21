// The hello-world app of the middleware-overhead measurements, built once for both: app.mjs serves it
// over HTTP, stack-work.mjs feeds its server a connection in process. GET /hello answers
// `{ hello, on }`; with a flags client the framework's Rupaya plugin/middleware is installed (request
// recording on) and the handler evaluates `flagKey` with `req.evaluateFlag`; without one, the same
// handler answers without either. `options` make the two breakdown apps: `{ evaluate: false }` (the
// plugin installed, the plain handler) and `{ recordRequests: false }` (the plugin's option).
// `{ noop: true }` without a client: the plain app plus a middleware (Express) or an `onRequest`
// hook (Fastify) that does nothing, the smallest thing a conventional integration adds to a request.
// `{ byHand: true }` with a client: no plugin; the handler does the plugin's work itself with the
// client's public API (`client.evaluate` with the default context, `client.recordRequest` after the
// response, its latency timed from the handler's start): the least an app can do for the same metrics.
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { defaultRequestContext } from '@rupaya/flags-node';

/** The apps with the plugin installed, and each one's `helloApp` options (the breakdown apps' too). */
const PLUGIN_APPS = {
  plugin: {},
  inline: {},
  registered: { evaluate: false },
  norecord: { recordRequests: false },
  byhand: { byHand: true },
};

/** What a request was served, as `client.recordRequest` takes it (none: nothing to record). */
function servedOf(client, flagKey, result, context) {
  if (result.cohort === undefined) return undefined;
  const stage = client.getFlag(flagKey)?.canary?.stage;
  return [{ flag: flagKey, cohort: result.cohort, stage, unit: context.userId }];
}

/** Options of the app named `mode` (`plain`, `plugin`, `registered`, …), or undefined without a plugin. */
export function pluginAppOptions(mode) {
  return PLUGIN_APPS[mode];
}

/** `{ server, listen }`: the app's (not yet listening) HTTP server, and `listen()` → its loopback port. */
export async function helloApp(framework, client, flagKey, options = {}) {
  const evaluate = client !== undefined && options.evaluate !== false;
  const recordRequests = options.recordRequests !== false;
  const byHand = client !== undefined && options.byHand === true;
  const plugin = client !== undefined && !byHand;
  if (framework === 'fastify') {
    const { default: Fastify } = await import('fastify');
    const app = Fastify({ logger: false });
    if (options.noop) app.addHook('onRequest', (_request, _reply, done) => done());
    if (plugin) {
      const { flagsPlugin } = await import('@rupaya/flags-fastify');
      await app.register(flagsPlugin, { client, recordRequests });
    }
    if (byHand) {
      app.get('/hello', (request, reply) => {
        const start = performance.now();
        const context = defaultRequestContext(request);
        const result = client.evaluate(flagKey, context);
        reply.send({ hello: 'world', on: result.enabled });
        const served = servedOf(client, flagKey, result, context);
        if (served) {
          const durationMs = performance.now() - start;
          client.recordRequest({
            route: '/hello',
            method: 'GET',
            status: reply.statusCode,
            durationMs,
            served,
          });
        }
        return reply;
      });
    } else if (evaluate) {
      app.get('/hello', async (request) => ({ hello: 'world', on: request.evaluateFlag(flagKey).enabled }));
    } else {
      app.get('/hello', async () => ({ hello: 'world', on: false }));
    }
    await app.ready();
    return {
      server: app.server,
      listen: async () => {
        await app.listen({ host: '127.0.0.1', port: 0 });
        return app.server.address().port;
      },
    };
  }
  const { default: express } = await import('express');
  const app = express();
  if (options.noop) app.use((_req, _res, next) => next());
  if (plugin) {
    const { flagsMiddleware } = await import('@rupaya/flags-express');
    app.use(flagsMiddleware({ client, recordRequests }));
  }
  if (byHand) {
    app.get('/hello', (req, res) => {
      const start = performance.now();
      const context = defaultRequestContext(req);
      const result = client.evaluate(flagKey, context);
      res.json({ hello: 'world', on: result.enabled });
      const served = servedOf(client, flagKey, result, context);
      if (served) {
        const durationMs = performance.now() - start;
        client.recordRequest({ route: '/hello', method: 'GET', status: res.statusCode, durationMs, served });
      }
    });
  } else if (evaluate) {
    // Synchronous like the plain app's handler: evaluateFlag returns the result itself.
    app.get('/hello', (req, res) => {
      res.json({ hello: 'world', on: req.evaluateFlag(flagKey).enabled });
    });
  } else {
    app.get('/hello', (_req, res) => res.json({ hello: 'world', on: false }));
  }
  const server = createServer(app);
  return {
    server,
    listen: () =>
      new Promise((resolve) => {
        server.listen(0, '127.0.0.1', () => resolve(server.address().port));
      }),
  };
}
