// bench/README.md is generated from bench/results/*.json; the prose here explains how to read it.

const intro = `# Benchmarks

Measurements of Rupaya Flags side by side with the products it is compared with. Benchmarks are not
tests: nothing here is run by the test suite and no speed is asserted anywhere. This file is
**generated** by \`bench/run.mjs\` from \`bench/results/<suite>.json\` (raw numbers, machine and date in
each); edit \`bench/lib/readme.mjs\` or the suites, not this file.

Run everything (builds first): \`npx pnpm@12.4.2 bench\`. One suite: \`cd bench && node --expose-gc run.mjs core\`
(suites: \`core\`, \`control-plane\`, \`sdk\`, \`canary\`, \`experiments\`).

Numbers from one machine are only comparable within one run: each table's columns were measured
in the same run, under the same process settings. Each results file records the load average at the
end of its run; on a loaded machine every wall-clock figure (and, less, CPU time) is inflated, so
where a table reports CPU time per operation, prefer it over rates and latencies.
`;

function machineLine(record) {
  const m = record.machine;
  return `Measured ${m.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cpu} (${m.cores} cores, ${m.memoryGb} GB), ${m.platform}, Node ${m.node}, load average at the end ${m.loadAverage?.join(' / ') ?? 'n/a'}; command \`${record.command}\` (${record.durationSec} s).`;
}

const notes = `## Notes (state of 2026-11-26; core and sdk runs 04:27–05:43, the other suites 2026-11-25 23:16–23:34)

- **Noise.** Identical runs on this VM still differ by up to ±40% in requests per second, and
  identical Node processes differ by up to ~25% in CPU per request for their whole life; for
  minutes at a time the whole VM also runs ~1.6× slower (a core run at 04:58–05:05 measured S1 at
  7.9 ns instead of 4.7 and flagd-core's S1 at 142 instead of 98 ns). The control-plane and sdk suites
  therefore start fresh processes in every round and judge by the median of per-round ratios; the
  core suite runs every cell in 3 interleaved passes (fresh processes) and reports the median.
- **Core (issue 3):** every scenario runs with two id shapes. With 10-character ids the published
  run meets S1, S2, S3 and S5 (5.9 / 35.2 / 47.0 / 64.4 ns) with S2 and S3 ≥ 10× flagd-core (13.2×,
  13.8×); S4 (64.0 ns) lost the process lottery described next in two of its three passes (40.6 ns in
  the third, 40–43 ns in single runs), and S5 is 7× flagd-core (flagd-core's S5 is its cheapest
  scenario). With 36-character UUIDs only S1 meets its target: reading the 36 characters alone costs
  62–77 ns on Node 20 (the floor rows; V8 re-checks the string's representation on every
  \`charCodeAt\`, and \`TextEncoder.encodeInto\` / \`Buffer#latin1Write\` are C++ calls that cost 50–60 ns
  by themselves), so S2 is 77–90 ns at best. **Process lottery:** the same rupaya cell run in fresh
  processes is bimodal — about a third of the processes run the hashing scenarios 1.5–1.8× slower
  for their whole life (S2 with short ids: 33–36 ns or 55–61 ns; with UUIDs 77–90 or 122–160 ns).
  Fixing V8's \`--random-seed\`, \`--single-threaded\` or tracing flags made it rarer but not
  reproducible, so it depends on V8's concurrent compilation or heap layout, not on the inputs; the
  3-pass median softens it and the per-pass figures are in \`results/core.json\`. Since
  2026-11-25, compiled flags compare the unit's hash with precomputed hash bounds without branching
  on it, instead of computing a bucket (S2 with short ids ≈ 50 → ≈ 35 ns), murmur3 reads two blocks
  per loop trip, and flags are looked up in dictionary objects instead of Maps (−12 ns per lookup
  of a key built at run time, as in S5). 0 bytes per call everywhere.
- **Control plane (issue 4):** every 200/304 mode is at ≥ 80% of the bare-Fastify ceiling (median of
  5 rounds) on PGlite and Postgres; the 304 path authenticates inline from a memo of the last
  Authorization header and makes per-request loggers only on use. Idle RSS on Postgres with 1,000
  flags is under 100 MB since \`LEAN_HEAP\` is applied before the server's modules load. RSS grows
  after many writes (each revision keeps identity, gzip and brotli bytes until the next one).
- **Middleware (issue 5):** the SDK's HTTP runs on a worker thread: one \`undici.request\` on a
  Fastify hello-world's main thread costs it 14–17% of its requests per second for the rest of its
  life, and the same client on a worker thread costs nothing measurable (the "inline" columns keep
  that control in every run). With the worker, the plugin's loss sits around the 5% line on both
  frameworks: on 2026-11-25's faster VM (Fastify hello-world ≈ 80k rps) medians of 4.8/6.0/5.2%
  (Fastify) and 5.3/6.5/−2.6% (Express) in three runs; on 2026-11-26's slower one (≈ 45k rps)
  5.2% (paired 8.3%) and 4.0% (paired 6.3%). Per request that is ≈ 1 µs of CPU on Fastify and
  3–7 µs on Express (where every read of an Express \`req\`/\`res\` property is a megamorphic
  lookup); a CPU profile of the Fastify plugin app under load puts every function of ours at
  ≤ 0.2% of samples each (the socket write is 43%). Identical runs differ by more than the
  remaining gap.
- **Canary reaction (issue 6):** the scheduler reads every window with data, including the one still
  open, so a rollback can fire before the failing window closes — at 10-s windows the median reaction
  is below one window, well inside the ≤ 30 s target.
`;

export function renderReadme(records) {
  const parts = [intro];
  for (const { suite, record } of records) {
    parts.push(`## ${suite.title}\n`);
    if (suite.about) parts.push(`${suite.about}\n`);
    if (!record) {
      parts.push(`Not run yet: \`node --expose-gc run.mjs ${suite.name}\`.\n`);
      continue;
    }
    parts.push(`${machineLine(record)}\n`);
    parts.push(
      record.data.error
        ? `The suite failed: \`${record.data.error.split('\n')[0]}\`\n`
        : `${suite.markdown(record.data)}\n`,
    );
  }
  parts.push(notes);
  return `${parts.join('\n').trimEnd()}\n`;
}
