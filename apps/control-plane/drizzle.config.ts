import { defineConfig } from 'drizzle-kit';

// `pnpm db:generate` writes SQL migrations to the repository's migrations/ folder.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema/index.ts',
  out: '../../migrations',
});
