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

const notes = `## Notes (state of 2026-11-25, 23:16–23:34 runs, quiet machine: load average ≤ 1)

- **Noise.** Identical runs on this VM still differ by up to ±40% in requests per second, and
  identical Node processes differ by up to ~25% in CPU per request for their whole life. The
  control-plane and sdk suites therefore start fresh processes in every round and judge by the
  median of per-round ratios; the per-round figures are in the tables.
- **Core (issue 3):** S1 meets ≤ 8 ns and S5 meets ≤ 80 ns; S2–S4 (66–86 ns in the latest run) miss
  their 50/80-ns targets and the ≥ 10× ratio to flagd-core (4–7× here). The floor rows show why:
  reading a 36-character unit key with \`charCodeAt\` costs most of the S2/S4 budget on Node 20 (V8
  re-checks the string's representation on every character), and MurmurHash3 of it all of it.
  0 bytes per call everywhere.
- **Control plane (issue 4):** every 200/304 mode is at ≥ 80% of the bare-Fastify ceiling (median of
  5 rounds) on PGlite and Postgres; the 304 path authenticates inline from a memo of the last
  Authorization header and makes per-request loggers only on use. Idle RSS on Postgres with 1,000
  flags is under 100 MB since \`LEAN_HEAP\` is applied before the server's modules load. RSS grows
  after many writes (each revision keeps identity, gzip and brotli bytes until the next one).
- **Middleware (issue 5):** the SDK's HTTP now runs on a worker thread. Single-variable runs showed
  that one \`undici.request\` on a Fastify hello-world's main thread costs it 14–17% of its requests
  per second for the rest of its life (one \`node:http\` request sometimes does too; importing undici,
  \`zlib\` or a WebAssembly module cost nothing), and the same client on a worker thread costs
  nothing measurable. The "inline" columns keep that control in every run. With the worker, the
  plugin's loss is around the 5% line on both frameworks (Fastify ~1 µs, Express ~3–7 µs of CPU per
  request, where every read of an Express \`req\`/\`res\` property is a megamorphic lookup); identical
  runs here differ by more than the remaining gap.
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
