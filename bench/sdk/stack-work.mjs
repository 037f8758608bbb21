// The plugin's cost per request through the framework's real HTTP stack, in one process and without
// the network: `node stack-work.mjs <fastify|express> <plain|plugin|registered|norecord>`. The hello-world app's server
// gets a Duplex stream as its connection (Node's `'connection'` event accepts any Duplex), so every
// request runs Node's HTTP parser, real IncomingMessage / ServerResponse objects and the framework's
// routing, but no kernel networking and no load generator shares the core. The plugin app is the
// overhead runs' (request recording on, one `req.evaluateFlag` per request) over a bootstrap snapshot
// (no control plane; metrics flush interval of an hour). Prints one JSON line: CPU µs per request
// (and, run by the suite under `perf stat`, the instructions of the timed batches are counted).
import { Duplex } from 'node:stream';
import { perfControl } from '../lib/child.mjs';
import { median } from '../lib/stats.mjs';
import { benchClient, FLAG } from './bench-client.mjs';
import { helloApp, pluginAppOptions } from './hello-app.mjs';

const [framework, mode] = process.argv.slice(2);
/** Requests per timed batch: ≈ 0.2 s of CPU for either framework. */
const BATCH = framework === 'express' ? 3_000 : 20_000;
const BATCHES = 7;
const client = benchClient();
// registered: the plugin installed, the plain handler (no flag evaluated); norecord: plugin mode
// with `recordRequests: false` (the breakdown of the plugin's cost, as in the HTTP runs).
const withPlugin = pluginAppOptions(mode) !== undefined;

/** Two Duplex ends: what one writes, the other reads. */
function duplexPair() {
  const ends = [];
  for (let i = 0; i < 2; i++) {
    ends.push(
      new Duplex({
        read() {},
        write(chunk, _encoding, callback) {
          ends[1 - i].push(chunk);
          callback();
        },
        final(callback) {
          ends[1 - i].push(null);
          callback();
        },
      }),
    );
  }
  return ends;
}

const { server } = await helloApp(framework, withPlugin ? client : undefined, FLAG, pluginAppOptions(mode));
const [clientEnd, serverEnd] = duplexPair();
// What Node's HTTP server calls on a socket.
serverEnd.remoteAddress = '127.0.0.1';
serverEnd.setTimeout = () => serverEnd;
serverEnd.setNoDelay = () => serverEnd;
serverEnd.setKeepAlive = () => serverEnd;
server.emit('connection', serverEnd);

// 1,000 users cycled (both cohorts); one request in flight at a time on one keep-alive connection.
const requests = Array.from({ length: 1000 }, (_, i) =>
  Buffer.from(`GET /hello HTTP/1.1\r\nHost: bench\r\nx-user-id: user-${i}\r\n\r\n`),
);
let pending;
let received = '';
let bad = 0;
clientEnd.on('data', (chunk) => {
  received += chunk.toString('latin1');
  const headEnd = received.indexOf('\r\n\r\n');
  if (headEnd < 0) return;
  const head = received.slice(0, headEnd);
  const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
  if (received.length < headEnd + 4 + length) return;
  if (!head.startsWith('HTTP/1.1 200')) bad++;
  received = received.slice(headEnd + 4 + length);
  const done = pending;
  pending = undefined;
  // The next request after the server has finished this response (a later turn of the event loop,
  // as a client across a network sends it): written at once, it reached the server while the
  // response was still the connection's current one, so every request took the pipelined path
  // (Node and the plugin handle a request queued behind a response differently), which clients
  // over a network hardly ever do.
  setImmediate(done);
});
let u = 0;
const oneRequest = () =>
  new Promise((resolve) => {
    pending = resolve;
    clientEnd.write(requests[u]);
    if (++u === requests.length) u = 0;
  });

async function batch(n) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await oneRequest();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

await batch(BATCH); // warm-up
const samples = [];
// Run under `perf stat` by the suite (runWorkerCounted): instructions are counted over the timed
// batches only.
perfControl('enable');
for (let i = 0; i < BATCHES; i++) samples.push(await batch(BATCH));
perfControl('disable');
await client.close();
console.log(
  JSON.stringify({
    ok: bad === 0,
    framework,
    mode,
    requests: BATCH * BATCHES,
    microsPerRequest: median(samples),
    error: bad === 0 ? undefined : `${bad} responses were not 200`,
  }),
);
process.exit(0);
