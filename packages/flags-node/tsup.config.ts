import { defineConfig } from 'tsup';

export default defineConfig({
  // transport-worker: the worker thread the default transport runs undici on (dist/transport-worker.{js,cjs}).
  entry: ['src/index.ts', 'src/transport-worker.ts'],
  format: ['esm', 'cjs'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  // import.meta.url in the CommonJS build (the worker script is found relative to it).
  shims: true,
  target: 'es2022',
});
