// `pnpm bench` entry: `node --expose-gc run.mjs [suite ...]` runs the named suites (default: all),
// prints their tables, writes bench/results/<suite>.json and regenerates bench/README.md from every
// results file present (so running one suite keeps the others' last tables).
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './lib/machine.mjs';
import { renderReadme } from './lib/readme.mjs';
import { suites } from './suites.mjs';

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
const readmePath = fileURLToPath(new URL('./README.md', import.meta.url));

const renderOnly = process.argv.includes('--render');
const requested = process.argv.slice(2).filter((a) => a !== '--render');
const unknown = requested.filter((s) => !suites.some((x) => x.name === s));
if (unknown.length > 0) {
  console.error(
    `unknown suite(s): ${unknown.join(', ')}; available: ${suites.map((s) => s.name).join(', ')}`,
  );
  process.exit(2);
}
if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc run.mjs (the `bench` script does)');
  process.exit(2);
}
// `--render` only regenerates README.md from the results files.
const selected = renderOnly
  ? []
  : requested.length > 0
    ? suites.filter((s) => requested.includes(s.name))
    : suites;
mkdirSync(resultsDir, { recursive: true });

const log = (line) => console.log(line);
let failed = false;
for (const suite of selected) {
  log(`\n## ${suite.title} — running\n`);
  const startedAt = new Date();
  let data;
  try {
    data = await suite.run({ log });
  } catch (error) {
    failed = true;
    data = { error: String(error?.stack ?? error) };
    log(`suite ${suite.name} failed: ${data.error}`);
  }
  const record = {
    suite: suite.name,
    title: suite.title,
    command: `node --expose-gc run.mjs ${suite.name}`,
    machine: machineInfo(),
    startedAt: startedAt.toISOString(),
    durationSec: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    data,
  };
  writeFileSync(`${resultsDir}${suite.name}.json`, `${JSON.stringify(record, null, 2)}\n`);
  log(`\n${data.error ? `Error: ${data.error}` : suite.markdown(data)}\n`);
  log(`(${suite.name}: ${record.durationSec} s)`);
}

const records = suites
  .map((s) => ({ suite: s, path: `${resultsDir}${s.name}.json` }))
  .map(({ suite, path }) => ({
    suite,
    record: existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null,
  }));
writeFileSync(readmePath, renderReadme(records));
log(`\nWrote ${readmePath}`);
process.exit(failed ? 1 : 0);
