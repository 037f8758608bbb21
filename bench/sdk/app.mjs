// Hello-world app for the middleware-overhead runs, in its own process so its CPU time is its own:
// `node app.mjs <fastify|express> <plain|outbound|plugin|inline|registered|norecord|noop|client|byhand> <control-plane url> <sdk key> <flag key>`.
// plugin mode: the Rupaya plugin/middleware with request recording on, and the handler evaluates one
// flag with req.evaluateFlag (what an app using the product does); plain mode: the same handler
// without either; inline mode: plugin mode with the SDK's HTTP on the main thread
// (`transport: 'inline'`) instead of its worker thread. The breakdown of the plugin's cost:
// registered mode: the client started and the plugin installed, the plain handler (no flag
// evaluated, so nothing recorded); norecord mode: plugin mode with `recordRequests: false`. noop
// mode: the plain app plus a middleware or hook that does nothing (what any integration costs).
// client mode: the plugin app's SDK client started (streaming, metrics on) and the plain app without
// the plugin: what the client's presence in the process costs, apart from anything per request.
// byhand mode: no plugin; the handler evaluates and records with the client's public API itself
// (see hello-app.mjs): what the plugin's glue adds over doing its work by hand.
// Prints {"port"} when listening.
import { createClient } from '@rupaya/flags-node';
import { helloApp, pluginAppOptions } from './hello-app.mjs';

const [framework, mode, url, sdkKey, flagKey] = process.argv.slice(2);
const withPlugin = pluginAppOptions(mode) !== undefined;
const clientOnly = mode === 'client';
if (mode === 'outbound') {
  // Control, not the ceiling: the plain app after one outgoing HTTP request on its main thread (GET
  // /health of the control plane, node:http), as any service with an HTTP client makes. Such a
  // process often serves slower for its whole life; the plugin app makes none on its main thread
  // (the SDK's HTTP runs on a worker), the inline mode does.
  const { get } = await import('node:http');
  await new Promise((resolve, reject) =>
    get(`${url}/health`, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject),
  );
}
let client;
if (withPlugin || clientOnly) {
  client = createClient({
    url,
    sdkKey,
    streaming: true,
    metrics: { enabled: true },
    transport: mode === 'inline' ? 'inline' : 'worker',
  });
  const state = await client.ready({ timeoutMs: 15_000 });
  if (state !== 'READY') throw new Error(`client not ready: ${state}`);
}

const options = mode === 'noop' ? { noop: true } : pluginAppOptions(mode);
const port = await (await helloApp(framework, clientOnly ? undefined : client, flagKey, options)).listen();
console.log(JSON.stringify({ port }));
process.on('SIGTERM', async () => {
  await client?.close();
  process.exit(0);
});
