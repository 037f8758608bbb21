// One product × one scenario × one id shape, in its own process
// (`node --expose-gc core/worker.mjs <peer> <S1..S5|S5m> [uuid|short]`),
// so no product's JIT feedback, heap or timers influence another's. Prints one JSON line.
import v8 from 'node:v8';
import { median, quantile } from '../lib/stats.mjs';
import {
  KEY_SEQUENCE_LENGTH,
  allowListIds,
  expectedShare,
  keySequence,
  manyFlags,
  scenarios,
  userIds,
} from './scenarios.mjs';

const [peer, scenarioId, idShape = 'uuid'] = process.argv.slice(2);
const scenario = scenarios[scenarioId];
const BATCHES = 15;
const TARGET_BATCH_NS = 20e6;
const ALLOC_CALLS = 1_000_000;
/** Peers allocate hundreds of bytes per call; for the slow ones ~1.5 s of calls measure it as well. */
const ALLOC_BUDGET_NS = 1.5e9;
const MASK = KEY_SEQUENCE_LENGTH - 1;

if (typeof globalThis.gc !== 'function') {
  console.log(JSON.stringify({ ok: false, error: 'run with node --expose-gc' }));
  process.exit(1);
}

// Each loop is specialised to one call shape; contexts are prebuilt in the product's own format and
// cycled, so only the evaluation is measured (plus the loop itself).
function makeLoop(instance, ctxs, seq, keys) {
  const n = ctxs.length;
  let u = 0;
  let k = 0;
  if (scenario.api === 'variant') {
    const variant = instance.variant;
    const key = scenario.key;
    if (instance.async) {
      return async (calls) => {
        let hits = 0;
        for (let i = 0; i < calls; i++) {
          if ((await variant(key, ctxs[u])) === 'variant_a') hits++;
          if (++u === n) u = 0;
        }
        return hits;
      };
    }
    return (calls) => {
      let hits = 0;
      for (let i = 0; i < calls; i++) {
        if (variant(key, ctxs[u]) === 'variant_a') hits++;
        if (++u === n) u = 0;
      }
      return hits;
    };
  }
  const isEnabled = instance.isEnabled;
  if (keys) {
    if (instance.async) {
      return async (calls) => {
        let hits = 0;
        for (let i = 0; i < calls; i++) {
          if ((await isEnabled(keys[seq[k]], ctxs[u])) === true) hits++;
          if (++u === n) u = 0;
          k = (k + 1) & MASK;
        }
        return hits;
      };
    }
    return (calls) => {
      let hits = 0;
      for (let i = 0; i < calls; i++) {
        if (isEnabled(keys[seq[k]], ctxs[u]) === true) hits++;
        if (++u === n) u = 0;
        k = (k + 1) & MASK;
      }
      return hits;
    };
  }
  const key = scenario.key;
  if (instance.async) {
    return async (calls) => {
      let hits = 0;
      for (let i = 0; i < calls; i++) {
        if ((await isEnabled(key, ctxs[u])) === true) hits++;
        if (++u === n) u = 0;
      }
      return hits;
    };
  }
  return (calls) => {
    let hits = 0;
    for (let i = 0; i < calls; i++) {
      if (isEnabled(key, ctxs[u]) === true) hits++;
      if (++u === n) u = 0;
    }
    return hits;
  };
}

/** Bytes allocated on the V8 heap by `calls` evaluations, garbage included (GC profiler). */
async function allocatedBytes(loop, calls) {
  globalThis.gc();
  globalThis.gc();
  const profiler = new v8.GCProfiler();
  const before = process.memoryUsage().heapUsed;
  profiler.start();
  await loop(calls);
  const after = process.memoryUsage().heapUsed;
  const { statistics } = profiler.stop();
  let collected = 0;
  for (const s of statistics)
    collected += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
  return { bytes: after - before + collected, gcs: statistics.length };
}

async function main() {
  const ids = userIds(idShape);
  const allow = allowListIds(ids);
  const s5 = manyFlags(scenario);
  const seq = keySequence();
  const adapter = await import(`./adapters/${peer}.mjs`);
  const instance = await adapter.create(scenario, { allow, s5 });
  const ctxs = ids.map(instance.toContext);
  const keys = s5 ? s5.map((f) => f.key) : null;

  // Correctness guard: one pass over the 100k users must return the expected share, and in S3
  // every allow-listed user must be in.
  const guardLoop = makeLoop(instance, ctxs, seq, keys);
  const hits = await guardLoop(ids.length);
  const expected = expectedShare(scenario, ids, seq, s5);
  const share = hits / ids.length;
  // 4σ of a binomial share over 100k units is < 0.7 percentage points for every scenario here.
  const tolerance = 4 * Math.sqrt((expected * (1 - expected)) / ids.length) + 1e-9;
  const problems = [];
  if (Math.abs(share - expected) > tolerance) {
    problems.push(`share ${(share * 100).toFixed(3)}% vs expected ${(expected * 100).toFixed(3)}%`);
  }
  if (scenario.id === 'S3') {
    let allowed = 0;
    for (const id of allow)
      if ((await instance.isEnabled(scenario.key, instance.toContext(id))) === true) allowed++;
    if (allowed !== allow.length) problems.push(`only ${allowed}/${allow.length} allow-listed users enabled`);
  }
  if (scenario.id === 'S4') {
    const seen = new Set();
    for (let i = 0; i < 2000; i++) seen.add(await instance.variant(scenario.key, ctxs[i]));
    const unexpected = [...seen].filter((v) => v !== 'control' && v !== 'variant_a');
    if (unexpected.length > 0) problems.push(`unexpected variants ${JSON.stringify(unexpected)}`);
  }

  // Steady state before timing: a running service collects garbage every few milliseconds, and the
  // first collection after a run-time-built string was used as a property or Map key replaces every
  // reference to it with its internalized twin (until then it is a "thin" string that points there,
  // one more hop per use). The timed loops allocate nothing, so without this no collection would
  // happen between the first use of S5's keys and the measurement. Same for every product.
  globalThis.gc();
  globalThis.gc();

  // Measurement uses a fresh loop (fresh cursors, same inputs).
  const loop = makeLoop(instance, ctxs, seq, keys);
  // Timing uses the process's CPU time (getrusage) as well as wall time: on a shared, loaded machine
  // wall time includes time spent waiting for a core, CPU time does not. Calibrate a batch of
  // ≈ 20 ms of CPU, warming up at the same time (≥ 0.5 s of CPU).
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) * 1000;
  };
  let batch = 1000;
  const warmStart = cpuNow();
  for (;;) {
    const c0 = cpuNow();
    await loop(batch);
    const dc = cpuNow() - c0;
    if (dc < TARGET_BATCH_NS) batch = Math.min(batch * 2, 1 << 24);
    else if (cpuNow() - warmStart > 5e8) break;
  }
  const samples = [];
  const wallSamples = [];
  for (let b = 0; b < BATCHES; b++) {
    const c0 = cpuNow();
    const t0 = process.hrtime.bigint();
    await loop(batch);
    wallSamples.push(Number(process.hrtime.bigint() - t0) / batch);
    samples.push((cpuNow() - c0) / batch);
  }
  const allocCalls =
    peer === 'rupaya'
      ? ALLOC_CALLS
      : Math.min(ALLOC_CALLS, Math.max(100_000, Math.round(ALLOC_BUDGET_NS / median(samples))));
  const alloc = await allocatedBytes(loop, allocCalls);
  await instance.close();
  return {
    ok: problems.length === 0,
    peer,
    label: adapter.label,
    scenario: scenario.id,
    ids: idShape,
    api: instance.async ? `${scenario.api} (async)` : scenario.api,
    nsPerEval: median(samples),
    nsP10: quantile(samples, 0.1),
    nsP90: quantile(samples, 0.9),
    nsPerEvalWall: median(wallSamples),
    batch,
    batches: BATCHES,
    bytesPerEval: alloc.bytes / allocCalls,
    allocBytesTotal: alloc.bytes,
    allocCalls,
    gcsDuringAlloc: alloc.gcs,
    guard: { share, expected, tolerance, problems },
  };
}

main().then(
  (result) => {
    console.log(JSON.stringify(result));
    process.exit(0);
  },
  (error) => {
    console.log(
      JSON.stringify({
        ok: false,
        peer,
        scenario: scenarioId,
        ids: idShape,
        error: String(error?.stack ?? error),
      }),
    );
    process.exit(0);
  },
);
