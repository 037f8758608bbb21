// Suite `core` (issue 3 §4): evaluation speed and allocation of @rupaya/flags-core side by side with
// flagd-core, GrowthBookClient, unleash-client and LaunchDarkly's server SDK, plus bundle sizes.
import { fileURLToPath } from 'node:url';
import { runWorker } from '../lib/child.mjs';
import { bytes, fmt, table } from '../lib/format.mjs';
import { median } from '../lib/stats.mjs';
import { bundleSizes } from './bundle.mjs';
import { ID_SHAPES, scenarios } from './scenarios.mjs';

export const name = 'core';
export const title = 'Core evaluation (issue 3 §4)';

const worker = fileURLToPath(new URL('./worker.mjs', import.meta.url));
const floorWorker = fileURLToPath(new URL('./floor.mjs', import.meta.url));
const floorProbes = ['loop', 'readUnitKey', 'murmurHash3'];
const peers = ['rupaya', 'flagd', 'growthbook', 'unleash', 'launchdarkly'];
/** S5m (not in the issue) is held to S5's target. */
const targetsNs = { S1: 8, S2: 50, S3: 80, S4: 50, S5: 80, S5m: 80 };

const shapes = Object.keys(ID_SHAPES);
/**
 * Processes per product × scenario × id shape. The passes are interleaved (every cell once, then
 * every cell again), so a burst of noise on this shared VM — which can slow one process for seconds —
 * lands in one pass of a cell, and the reported figure is the median of the passes.
 */
const PASSES = 5;

/** One cell's passes → the figures the tables use: medians of time, the largest allocation, all guards. */
function combine(passes) {
  const good = passes.filter((p) => !p.error);
  if (good.length === 0) return passes[0];
  const first = good[0];
  return {
    ...first,
    ok: good.every((p) => p.ok),
    nsPerEval: median(good.map((p) => p.nsPerEval)),
    nsPerEvalWall: median(good.map((p) => p.nsPerEvalWall)),
    bytesPerEval: Math.max(...good.map((p) => p.bytesPerEval)),
    guard: good.find((p) => !p.ok)?.guard ?? first.guard,
    passes: passes.map((p) =>
      p.error ? { error: p.error } : { nsPerEval: p.nsPerEval, bytesPerEval: p.bytesPerEval },
    ),
  };
}

export async function run({ log }) {
  const cells = [];
  for (const ids of shapes)
    for (const scenarioId of Object.keys(scenarios))
      for (const peer of peers) cells.push({ peer, scenario: scenarioId, ids, passes: [] });
  for (let pass = 0; pass < PASSES; pass++) {
    for (const cell of cells) {
      const r = await runWorker(worker, [cell.peer, cell.scenario, cell.ids], { timeoutMs: 60_000 });
      cell.passes.push(r);
      log(
        r.error
          ? `  pass ${pass + 1} ${cell.ids} ${cell.scenario} ${cell.peer}: ERROR ${r.error.split('\n')[0]}`
          : `  pass ${pass + 1} ${cell.ids} ${cell.scenario} ${cell.peer}: ${fmt(r.nsPerEval)} ns/eval, ${fmt(r.bytesPerEval, 2)} B/eval, guard ${r.ok ? 'ok' : r.guard.problems.join('; ')}`,
      );
    }
  }
  const results = cells.map(({ passes, ...cell }) => ({ ...cell, ...combine(passes) }));
  const floor = [];
  for (const ids of shapes) {
    for (const probe of floorProbes) {
      const runs = [];
      for (let pass = 0; pass < PASSES; pass++)
        runs.push(await runWorker(floorWorker, [probe, ids], { timeoutMs: 60_000 }));
      const good = runs.filter((r) => !r.error);
      const r = good.length > 0 ? { ...good[0], nsPerCall: median(good.map((x) => x.nsPerCall)) } : runs[0];
      floor.push({ probe, ids, ...r });
      log(
        r.error
          ? `  floor ${ids} ${probe}: ERROR ${r.error.split('\n')[0]}`
          : `  floor ${ids} ${probe}: ${fmt(r.nsPerCall)} ns (median of ${good.length})`,
      );
    }
  }
  const bundles = await bundleSizes();
  return { results, bundles, targetsNs, floor, passes: PASSES, s5Composition: 'rollout' };
}

const labels = {
  rupaya: '@rupaya/flags-core',
  flagd: 'flagd-core',
  growthbook: 'GrowthBookClient',
  unleash: 'unleash-client',
  launchdarkly: 'LaunchDarkly (async API)',
};

function cell(r, pick) {
  if (!r) return 'not run';
  if (r.error) return 'n/a (error)';
  const v = pick(r);
  return r.ok ? v : `${v} ⚠ guard failed`;
}

const floorLabels = {
  loop: 'the bench loop around a function returning a constant',
  readUnitKey: 'reading every character of the user id (`charCodeAt`, summed)',
  murmurHash3: '`murmurHash3` of the user id (core, the bucketing hash)',
};

export function markdown({ results, bundles, targetsNs: targets, floor = [], passes = 1, s5Composition }) {
  // Runs before S5m existed measured the mixed kinds as S5.
  const titleOf = (s) =>
    s === 'S5' && s5Composition !== 'rollout'
      ? '1,000 flags of mixed kinds (on, off, 25%, 50%), random key per call'
      : scenarios[s].title;
  // Results of runs before the id shapes existed carry no `ids`: they were UUIDs.
  const shapeOf = (r) => r.ids ?? 'uuid';
  const find = (peer, s, ids) =>
    results.find((r) => r.peer === peer && r.scenario === s && shapeOf(r) === ids);
  const scenarioIds = Object.keys(scenarios).filter((s) => results.some((r) => r.scenario === s));
  const measuredShapes = shapes.filter((ids) => results.some((r) => shapeOf(r) === ids));
  const out = [];
  out.push(
    'Median ns per evaluation, CPU time (wall time in parentheses): 15 timed batches of ≈ 20 ms of CPU after ≥ 0.5 s warm-up in each `node --expose-gc` process, one process per product, scenario and id shape in each of ' +
      passes +
      " interleaved passes, and the median of the passes' medians reported; contexts prebuilt in each product's format, 100k distinct user ids cycled; figures include the bench loop itself. CPU time is the whole process's (getrusage), so it also counts the peers' concurrent GC threads; wall time on a loaded machine also counts waiting for a core. Every scenario runs twice, with 36-character UUIDs and with 10-character ids, because hashing the unit key is most of an evaluation's cost and grows with the key's length.",
  );
  out.push('');
  for (const ids of measuredShapes) {
    out.push(`**${ID_SHAPES[ids].label}:**`);
    out.push('');
    out.push(
      table(
        ['Scenario', 'API (ours)', ...peers.map((p) => labels[p]), 'Target (ours)', 'Met?'],
        scenarioIds.map((s) => {
          const ours = find('rupaya', s, ids);
          const met =
            ours && !ours.error ? (ours.ok && ours.nsPerEval <= targets[s] ? 'yes' : 'no') : 'not measurable';
          return [
            `${s} ${titleOf(s)}`,
            `\`${scenarios[s].api}\``,
            ...peers.map((p) =>
              cell(find(p, s, ids), (r) => `${fmt(r.nsPerEval)} (${fmt(r.nsPerEvalWall)})`),
            ),
            `≤ ${targets[s]} ns`,
            met,
          ];
        }),
      ),
    );
    out.push('');
    out.push(
      `Speed-up of @rupaya/flags-core over each peer, ${ID_SHAPES[ids].label} (peer ns ÷ our ns, same run; target ≥ 10× over flagd-core on S2–S5):`,
    );
    out.push('');
    out.push(
      table(
        ['Scenario', ...peers.slice(1).map((p) => `vs ${labels[p]}`), 'S2–S5 ≥ 10× flagd?'],
        scenarioIds.map((s) => {
          const ours = find('rupaya', s, ids);
          const ratio = (p) => {
            const r = find(p, s, ids);
            if (!ours || ours.error || !r || r.error) return 'n/a';
            return `${fmt(r.nsPerEval / ours.nsPerEval)}×`;
          };
          const flagd = find('flagd', s, ids);
          const verdict =
            ours && !ours.error && flagd && !flagd.error
              ? flagd.nsPerEval / ours.nsPerEval >= 10
                ? 'yes'
                : 'no'
              : 'n/a';
          const ok = s === 'S1' ? '—' : s === 'S5m' ? `(extra) ${verdict}` : verdict;
          return [s, ...peers.slice(1).map(ratio), ok];
        }),
      ),
    );
    out.push('');
  }
  // Every pass of ours and of flagd-core (the peer of the ratio target), so the spread between
  // identical fresh processes is visible next to the medians.
  if (results.some((r) => Array.isArray(r.passes) && r.passes.length > 1)) {
    const passList = (r) =>
      !r || r.error || !Array.isArray(r.passes)
        ? 'n/a'
        : r.passes.map((p) => (p.error ? 'error' : fmt(p.nsPerEval))).join(' / ');
    out.push(
      `Every pass (ns per evaluation, CPU time; each a fresh process, in run order) of ours and of flagd-core: the median of these is the figure above. Identical processes on this VM differ by up to 1.8× for their whole life, for every product:`,
    );
    out.push('');
    out.push(
      table(
        ['Scenario', 'ids', '@rupaya/flags-core', 'flagd-core'],
        measuredShapes.flatMap((ids) =>
          scenarioIds.map((s) => [
            s,
            ID_SHAPES[ids].label,
            passList(find('rupaya', s, ids)),
            passList(find('flagd', s, ids)),
          ]),
        ),
      ),
    );
    out.push('');
  }
  const rows = (make) =>
    measuredShapes.flatMap((ids) =>
      scenarioIds.map((s) => make(s, ids, `${s} (${ID_SHAPES[ids].length}-char ids)`)),
    );
  out.push(
    'Heap bytes allocated per evaluation (V8 GC profiler + heapUsed delta after `gc()`, garbage included; 1,000,000 calls for ours, ≥ 100k or ≈ 1.5 s of calls for peers; target for ours: 0). The allocation figure for ours is the whole 1,000,000-call run divided by 10⁶, so anything below 1 B is a one-off, not per call (one allocation per call would show ≥ 12 B): the V8 heap grows by up to ≈ 0.24 MB in some processes while a loop is re-compiled (code and metadata count as heap), and 10,000,000 calls then allocate no more than 1,000,000 do:',
  );
  out.push('');
  out.push(
    table(
      ['Scenario', ...peers.map((p) => labels[p])],
      rows((s, ids, label) => [
        label,
        ...peers.map((p) => cell(find(p, s, ids), (r) => fmt(r.bytesPerEval, 2))),
      ]),
    ),
  );
  out.push('');
  out.push(
    'Correctness guard (share of `true` / `variant_a` over one pass of the 100k users, must be within 4σ of the expected share; S3 also checks every allow-listed id):',
  );
  out.push('');
  out.push(
    table(
      ['Scenario', 'Expected', ...peers.map((p) => labels[p])],
      rows((s, ids, label) => {
        const any = results.find((r) => r.scenario === s && shapeOf(r) === ids && r.guard);
        return [
          label,
          any ? `${(any.guard.expected * 100).toFixed(2)}%` : 'n/a',
          ...peers.map((p) => {
            const r = find(p, s, ids);
            if (!r || r.error) return r?.error ? `error: ${r.error.split('\n')[0].slice(0, 80)}` : 'not run';
            return `${(r.guard.share * 100).toFixed(2)}% ${r.ok ? 'ok' : `FAIL (${r.guard.problems.join('; ')})`}`;
          }),
        ];
      }),
    ),
  );
  out.push('');
  // How S5 is built is checked against the issue's own reference figures in every run: each
  // peer's S5 ÷ S2 here, for S5 (1,000 rollouts) and S5m (mixed kinds), next to the issue's.
  if (scenarioIds.includes('S5') && scenarioIds.includes('S5m') && s5Composition === 'rollout') {
    const ratioOf = (peer, s, ids) => {
      const a = find(peer, s, ids);
      const b = find(peer, 'S2', ids);
      return a && b && !a.error && !b.error ? `${fmt(a.nsPerEval / b.nsPerEval, 2)}×` : 'n/a';
    };
    out.push(
      "Why S5's 1,000 flags are rollouts: the issue's reference figures (flagd-core 494 ns on S2 and 701 on S5, GrowthBookClient 696 and 826, unleash-client 702 and 804) make each peer's S5 cost more than its S2; 1,000 rollouts do that here, a mix of kinds (S5m) does not. Each peer's S5 ÷ S2 in this run:",
    );
    out.push('');
    const reference = { flagd: 701 / 494, growthbook: 826 / 696, unleash: 804 / 702 };
    out.push(
      table(
        [
          'Peer',
          'issue (reference)',
          ...measuredShapes.flatMap((ids) => [`S5, ${ID_SHAPES[ids].label}`, `S5m, ${ID_SHAPES[ids].label}`]),
        ],
        Object.keys(reference).map((peer) => [
          labels[peer],
          `${fmt(reference[peer], 2)}×`,
          ...measuredShapes.flatMap((ids) => [ratioOf(peer, 'S5', ids), ratioOf(peer, 'S5m', ids)]),
        ]),
      ),
    );
    out.push('');
  }
  if (floor.length > 0) {
    out.push(
      'Cost floor in the same harness (same 100k contexts cycled, same batches): every scenario that buckets on `userId` (S2–S5) must read the whole id. On Node 20 (V8 11.3) each `charCodeAt` re-dispatches on the string representation (≈ 1.5–2 ns per character), and the alternatives (`TextEncoder.encodeInto`, `Buffer#latin1Write`) are calls into C++ that cost as much or more at these lengths; so with UUIDs, reading the id alone costs what the S2/S4 targets allow for the whole evaluation:',
    );
    out.push('');
    const floorShapes = shapes.filter((ids) => floor.some((f) => (f.ids ?? 'uuid') === ids));
    out.push(
      table(
        ['Probe', ...floorShapes.map((ids) => `ns per call, ${ID_SHAPES[ids].label}`)],
        floorProbes.map((probe) => [
          floorLabels[probe] ?? probe,
          ...floorShapes.map((ids) => {
            const f = floor.find((x) => x.probe === probe && (x.ids ?? 'uuid') === ids);
            return !f ? 'not run' : f.error ? 'n/a (error)' : fmt(f.nsPerCall);
          }),
        ]),
      ),
    );
    out.push('');
  }
  out.push('Bundle size (esbuild `--bundle --minify`, ESM, gzip level 9; Node built-ins external):');
  out.push('');
  out.push(
    table(
      ['Package', 'min', 'min+gzip'],
      bundles.map((b) => (b.error ? [b.label, 'n/a', b.error] : [b.label, bytes(b.minified), bytes(b.gzip)])),
    ),
  );
  return out.join('\n');
}
