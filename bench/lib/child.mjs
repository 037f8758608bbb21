import { spawn } from 'node:child_process';

/**
 * Runs a bench worker in its own process (same flags for every product), and resolves with the
 * JSON object the worker prints on its last stdout line.
 */
export function runWorker(script, args, { timeoutMs = 120_000, env = {}, nodeArgs = ['--expose-gc'] } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        resolve({
          ok: false,
          error: `worker exited (${signal ?? code}) without a result: ${(err || out).trim().slice(-600)}`,
        });
      }
    });
  });
}
