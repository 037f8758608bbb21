import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Workspace packages resolve to their sources in tests, so a change is tested without a rebuild.
// Tests that start a child process use the built `dist/` (the test command builds first).
const alias = {
  '@rupaya/flags-core': src('./packages/flags-core/src/index.ts'),
  '@rupaya/flags-node': src('./packages/flags-node/src/index.ts'),
  '@rupaya/flags-express': src('./packages/flags-express/src/index.ts'),
  '@rupaya/flags-fastify': src('./packages/flags-fastify/src/index.ts'),
  '@rupaya/openfeature-provider': src('./packages/openfeature-provider/src/index.ts'),
  '@rupaya/control-plane': src('./apps/control-plane/src/index.ts'),
};

const project = (name: string, dir: string, extra: Record<string, unknown> = {}) => ({
  extends: true as const,
  test: { name, include: [`${dir}/src/**/*.test.ts`, `${dir}/test/**/*.test.ts`], ...extra },
});

export default defineConfig({
  resolve: { alias },
  test: {
    passWithNoTests: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      project('@rupaya/flags-core', 'packages/flags-core'),
      project('@rupaya/flags-node', 'packages/flags-node'),
      project('@rupaya/flags-express', 'packages/flags-express'),
      project('@rupaya/flags-fastify', 'packages/flags-fastify'),
      project('@rupaya/openfeature-provider', 'packages/openfeature-provider'),
      project('@rupaya/cli', 'packages/cli'),
      project('@rupaya/control-plane', 'apps/control-plane'),
      project('docs', 'docs'),
      {
        extends: true as const,
        test: { name: '@rupaya/e2e', include: ['e2e/**/*.test.ts'], testTimeout: 120_000 },
      },
    ],
  },
});
