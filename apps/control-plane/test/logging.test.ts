// The per-request logger made on first use (src/logging.ts), in a real Fastify with pino writing to
// a stream: requests that log nothing make no child logger; requests that log get their reqId binding.
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { LazyRequestLogger, lazyChildLoggerFactory } from '../src/logging';

function appWithLines(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  const app = Fastify({ logger: { level, stream }, childLoggerFactory: lazyChildLoggerFactory });
  const made: boolean[] = [];
  app.get('/quiet', (request) => {
    request.log.debug('not at warn');
    made.push((request.log as unknown as { made?: unknown }).made !== undefined);
    return { ok: true };
  });
  app.get('/loud', (request) => {
    request.log.warn({ detail: 7 }, 'something to see');
    return { ok: true };
  });
  app.get('/throws', () => {
    throw new Error('boom');
  });
  return { app, lines, made };
}

describe('lazy per-request loggers', () => {
  it('makes no child for a request that logs below the level; a logging request carries its reqId', async () => {
    const { app, lines, made } = appWithLines('warn');
    expect((await app.inject('/quiet')).statusCode).toBe(200);
    expect(made).toEqual([false]);
    expect(lines).toEqual([]);
    await app.inject('/loud');
    const warn = lines.find((l) => l.msg === 'something to see');
    expect(warn).toMatchObject({ level: 40, detail: 7, reqId: expect.stringMatching(/^req-/) });
    await app.inject('/throws');
    const error = lines.find((l) => l.level === 50);
    expect(error).toMatchObject({ reqId: expect.stringMatching(/^req-/) });
    expect(error?.reqId).not.toBe(warn?.reqId);
    await app.close();
  });

  it('at info, Fastify’s own request lines keep their reqId, req and res', async () => {
    const { app, lines } = appWithLines('info');
    await app.inject('/quiet');
    const incoming = lines.find((l) => l.msg === 'incoming request');
    const completed = lines.find((l) => l.msg === 'request completed');
    expect(incoming).toMatchObject({ reqId: expect.any(String), req: { method: 'GET', url: '/quiet' } });
    expect(completed).toMatchObject({ reqId: incoming?.reqId, res: { statusCode: 200 } });
    await app.close();
  });

  it('answers level questions like the parent until it is made, then like the child', async () => {
    const { app } = appWithLines('warn');
    const lazy = new LazyRequestLogger(app.log, { reqId: 'r1' }, {});
    expect(lazy.level).toBe('warn');
    expect(lazy.isLevelEnabled('info')).toBe(false);
    expect(lazy.isLevelEnabled('error')).toBe(true);
    lazy.level = 'debug';
    expect(lazy.level).toBe('debug');
    expect(lazy.isLevelEnabled('debug')).toBe(true);
    expect(app.log.level).toBe('warn');
    const child = lazy.child({ part: 'x' });
    expect(child.level).toBe('debug');
    await app.close();
  });
});
