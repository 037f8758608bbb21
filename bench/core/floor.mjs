// The cost floor of this machine and Node version under the core harness: what a loop of the same
// shape costs before any product does anything (a function that returns a constant), and what merely
// reading a unit key costs — every character with `charCodeAt`, the cheapest way to read a string's
// characters in JavaScript here (`TextEncoder.encodeInto` and `Buffer#latin1Write` are calls into
// C++ that cost 50–60 ns per 36-character id on their own on Node 20) — and MurmurHash3 of it. Any
// product that hashes the unit key pays at least the second row per evaluation. Prints one JSON line:
// `node --expose-gc core/floor.mjs <loop|readUnitKey|murmurHash3> [uuid|short]`.
import { murmurHash3 } from '@rupaya/flags-core';
import { median } from '../lib/stats.mjs';
import { userIds } from './scenarios.mjs';

const BATCHES = 15;
const TARGET_BATCH_NS = 20e6;

const which = process.argv[2];
const idShape = process.argv[3] ?? 'uuid';
const ids = userIds(idShape);
const ctxs = ids.map((userId) => ({ userId }));
const n = ctxs.length;

function readAll(s) {
  let x = 0;
  const len = s.length;
  for (let i = 0; i < len; i++) x = (x + s.charCodeAt(i)) | 0;
  return x;
}

const probes = {
  loop: (ctx) => ctx !== null,
  readUnitKey: (ctx) => readAll(ctx.userId) !== -1,
  murmurHash3: (ctx) => murmurHash3(ctx.userId, 0x2545f491) !== -1,
};

function makeLoop(fn) {
  let u = 0;
  return (calls) => {
    let hits = 0;
    for (let i = 0; i < calls; i++) {
      if (fn(ctxs[u]) === true) hits++;
      if (++u === n) u = 0;
    }
    return hits;
  };
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

function measure(fn) {
  const loop = makeLoop(fn);
  let batch = 1000;
  const warmStart = cpuNow();
  for (;;) {
    const c0 = cpuNow();
    loop(batch);
    const dc = cpuNow() - c0;
    if (dc < TARGET_BATCH_NS) batch = Math.min(batch * 2, 1 << 24);
    else if (cpuNow() - warmStart > 3e8) break;
  }
  const samples = [];
  for (let b = 0; b < BATCHES; b++) {
    const c0 = cpuNow();
    loop(batch);
    samples.push((cpuNow() - c0) / batch);
  }
  return median(samples);
}

const fn = probes[which];
if (!fn) {
  console.log(JSON.stringify({ ok: false, error: `unknown probe ${which}` }));
  process.exit(1);
}
console.log(JSON.stringify({ ok: true, probe: which, ids: idShape, nsPerCall: measure(fn) }));
