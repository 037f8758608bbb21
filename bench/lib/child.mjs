import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs a bench worker in its own process (same flags for every product), and resolves with the
 * JSON object the worker prints on its last stdout line.
 */
export function runWorker(script, args, { timeoutMs = 120_000, env = {}, nodeArgs = ['--expose-gc'] } = {}) {
  return runForJson(process.execPath, [...nodeArgs, script, ...args], env, timeoutMs);
}

/** Runs `command`, resolving with the JSON of its last stdout line, or `{ ok: false, error }`. */
function runForJson(command, argv, env, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(command, argv, {
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

let perfUsable;
/** Whether `perf stat` can count this user's instructions here (Linux perf installed, counters allowed). */
export function perfAvailable() {
  if (perfUsable === undefined) {
    const r = spawnSync('perf', ['stat', '-x,', '-e', 'instructions:u', 'true'], { encoding: 'utf8' });
    perfUsable = r.status === 0 && /^\d+,/m.test(r.stderr ?? '');
  }
  return perfUsable;
}

/**
 * `runWorker` under `perf stat -e instructions:u`, counting only while the worker says so: the
 * worker gets `RUPAYA_PERF_CTL` / `RUPAYA_PERF_ACK` (perf's control FIFOs) and writes `enable` and
 * `disable` around what it times (`perfControl` below). Resolves with the worker's JSON plus
 * `instructions` (every thread of the process while enabled). Instruction counts are the quiet
 * measure on a VM whose speed swings: they do not move with the host's load or clock.
 */
export async function runWorkerCounted(
  script,
  args,
  { timeoutMs = 120_000, nodeArgs = ['--expose-gc'] } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'rupaya-perf-'));
  const ctl = join(dir, 'ctl');
  const ack = join(dir, 'ack');
  const out = join(dir, 'stat.csv');
  try {
    for (const fifo of [ctl, ack]) {
      const r = spawnSync('mkfifo', [fifo]);
      if (r.status !== 0) return { ok: false, error: 'mkfifo failed' };
    }
    const perfArgs = [
      'stat',
      '-x,',
      '-e',
      'instructions:u',
      '-o',
      out,
      '-D',
      '-1',
      '--control',
      `fifo:${ctl},${ack}`,
    ];
    const result = await runForJson(
      'perf',
      [...perfArgs, '--', process.execPath, ...nodeArgs, script, ...args],
      { RUPAYA_PERF_CTL: ctl, RUPAYA_PERF_ACK: ack },
      timeoutMs,
    );
    if (!existsSync(out)) return result;
    const line = readFileSync(out, 'utf8')
      .split('\n')
      .find((l) => l.includes('instructions'));
    const count = Number(line?.split(',')[0]);
    return Number.isFinite(count) && count > 0 ? { ...result, instructions: count } : result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * In a worker run by `runWorkerCounted`: `perfControl('enable')` / `perfControl('disable')` start and
 * stop the count (waits for perf's acknowledgement); a no-op anywhere else.
 */
export function perfControl(command) {
  const ctl = process.env.RUPAYA_PERF_CTL;
  const ack = process.env.RUPAYA_PERF_ACK;
  if (!ctl || !ack) return;
  ctlFd ??= openSync(ctl, 'w');
  ackFd ??= openSync(ack, 'r');
  writeSync(ctlFd, `${command}\n`);
  readSync(ackFd, Buffer.alloc(5));
}
let ctlFd;
let ackFd;
