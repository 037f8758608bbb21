import { defineConfig } from 'tsup';

export default defineConfig({
  // index: the library (run the CLI in-process); bin: the `rupaya` command (keeps its shebang).
  entry: ['src/index.ts', 'src/bin.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // Loaded at run time by migrate/seed/setup only; never bundled.
  external: ['@rupaya/control-plane'],
});
