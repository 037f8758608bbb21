// The ceiling: a bare Fastify route serving the same prebuilt snapshot bytes (identity and gzip) with
// the same ETag / If-None-Match behaviour, without auth or any lookup. Run as a child process:
// `node ceiling.mjs <identity file> <gzip file> <etag>`; prints {"port"} when listening.
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [identityPath, gzipPath, etag] = process.argv.slice(2);
const identity = readFileSync(identityPath);
const gzip = readFileSync(gzipPath);

const app = Fastify({ logger: false });
app.get('/api/sdk/v1/snapshot', (request, reply) => {
  reply.header('etag', etag);
  reply.header('cache-control', 'no-cache');
  reply.header('vary', 'Accept-Encoding');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  reply.type('application/json; charset=utf-8');
  if ((request.headers['accept-encoding'] ?? '').includes('gzip')) {
    reply.header('content-encoding', 'gzip');
    return reply.send(gzip);
  }
  return reply.send(identity);
});
await app.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ port: app.server.address().port }));
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
