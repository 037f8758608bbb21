// Starts the built control plane (apps/control-plane/dist/main.js) in a child process on loopback,
// so load generators in the bench process do not share its CPU accounting.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const controlPlaneMain = fileURLToPath(
  new URL('../../apps/control-plane/dist/main.js', import.meta.url),
);

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(check, { timeoutMs = 30_000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * @param {{ storage: 'pglite' | 'postgres', databaseUrl?: string, env?: Record<string,string> }} options
 */
export async function startControlPlane({
  storage,
  databaseUrl,
  dataDir: givenDataDir,
  adminToken: givenToken,
  env = {},
}) {
  if (!existsSync(controlPlaneMain)) throw new Error(`${controlPlaneMain} not built (run pnpm build)`);
  const port = await freePort();
  const adminToken = givenToken ?? `bench-admin-${randomBytes(16).toString('hex')}`;
  // A given data folder belongs to the caller (kept across restarts); otherwise a temporary one.
  const dataDir = givenDataDir ?? mkdtempSync(join(tmpdir(), 'rupaya-bench-'));
  const child = spawn(process.execPath, [controlPlaneMain], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: '127.0.0.1',
      PORT: String(port),
      ADMIN_API_TOKEN: adminToken,
      JWT_SECRET: randomBytes(32).toString('hex'),
      RUPAYA_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      ...(storage === 'postgres' ? { DATABASE_URL: databaseUrl } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d) => {
    output = (output + d).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  let dead = null;
  exited.then((e) => {
    dead = e;
  });
  try {
    await waitFor(
      async () => {
        if (dead) throw Object.assign(new Error('exited'), { fatal: true });
        const res = await fetch(`${url}/health`);
        await res.arrayBuffer();
        return res.status === 200 || res.status === 503;
      },
      { timeoutMs: 60_000, what: 'control plane /health' },
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`control plane did not start (${error.message}): ${output.trim().slice(-1500)}`);
  }
  return {
    url,
    pid: child.pid,
    adminToken,
    dataDir,
    output: () => output,
    async stop() {
      if (!dead) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      if (!givenDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function adminClient(url, token) {
  async function call(method, path, body, headers = {}) {
    const send = () =>
      fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    let res;
    try {
      res = await send();
    } catch {
      // A kept-alive socket the server closed while the bench was busy (e.g. seeding): retry once.
      res = await send();
    }
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 400)}`);
    }
    return { status: res.status, headers: res.headers, body: json };
  }
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    put: (path, body, headers) => call('PUT', path, body, headers),
    async sdkKey(environment) {
      const { body } = await call('POST', '/api/admin/deployment/sdk-keys', { environment });
      return body.key;
    },
  };
}
