// Bundle size, minified + gzip (level 9), of the core and of each peer, bundled by esbuild as an
// application would bundle them. Node built-ins stay external (they cost nothing in a bundle).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const benchDir = fileURLToPath(new URL('..', import.meta.url));
const coreDist = fileURLToPath(new URL('../../packages/flags-core/dist/index.js', import.meta.url));

const entries = [
  {
    label: '@rupaya/flags-core (whole package)',
    contents: `export * from '@rupaya/flags-core';`,
    platform: 'neutral',
  },
  {
    label: '@rupaya/flags-core (createEvaluator only)',
    contents: `export { createEvaluator } from '@rupaya/flags-core';`,
    platform: 'neutral',
  },
  {
    label: '@openfeature/flagd-core',
    contents: `export { FlagdCore } from '@openfeature/flagd-core';`,
    platform: 'node',
  },
  {
    label: 'GrowthBookClient',
    contents: `export { GrowthBookClient } from '@growthbook/growthbook';`,
    platform: 'node',
  },
  { label: 'unleash-client', contents: `export { Unleash } from 'unleash-client';`, platform: 'node' },
  {
    label: 'LaunchDarkly node-server-sdk',
    contents: `export { init } from '@launchdarkly/node-server-sdk';`,
    platform: 'node',
  },
];

async function sizeOf({ contents, platform }) {
  const result = await build({
    stdin: { contents, resolveDir: benchDir, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform,
    mainFields: platform === 'neutral' ? ['module', 'main'] : undefined,
    write: false,
    logLevel: 'silent',
    external: ['node:*'],
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.length, gzip: gzipSync(code, { level: 9 }).length };
}

export async function bundleSizes() {
  const rows = [];
  for (const entry of entries) {
    if (entry.label.startsWith('@rupaya') && !existsSync(coreDist)) {
      rows.push({ label: entry.label, error: 'packages/flags-core/dist not built (run pnpm build)' });
      continue;
    }
    try {
      rows.push({ label: entry.label, ...(await sizeOf(entry)) });
    } catch (error) {
      rows.push({ label: entry.label, error: String(error.message ?? error).split('\n')[0] });
    }
  }
  return rows;
}
