// bench/README.md is generated from bench/results/*.json; the prose here explains how to read it.

const intro = `# Benchmarks

Measurements of Rupaya Flags side by side with the products it is compared with. Benchmarks are not
tests: nothing here is run by the test suite and no speed is asserted anywhere. This file is
**generated** by \`bench/run.mjs\` from \`bench/results/<suite>.json\` (raw numbers, machine and date in
each); edit \`bench/lib/readme.mjs\` or the suites, not this file.

Run everything (builds first): \`npx pnpm@12.4.2 bench\`. One suite: \`cd bench && node --expose-gc run.mjs core\`
(suites: \`core\`, \`control-plane\`, \`sdk\`, \`canary\`).

Numbers from one machine are only comparable within one run: each table's columns were measured
in the same run, under the same process settings.
`;

function machineLine(record) {
  const m = record.machine;
  return `Measured ${m.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cpu} (${m.cores} cores, ${m.memoryGb} GB), ${m.platform}, Node ${m.node}, load average at the end ${m.loadAverage?.join(' / ') ?? 'n/a'}; command \`${record.command}\` (${record.durationSec} s).`;
}

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
  return `${parts.join('\n').trimEnd()}\n`;
}
