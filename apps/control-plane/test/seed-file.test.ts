// Seeding reads a flags file (the format of `rupaya flags export|import`): config/feature-flags.json by
// default, RUPAYA_FLAGS_FILE otherwise (JSON or YAML). On PGlite and Postgres, over real HTTP: the flags
// of every listed environment (a new one included) as the admin API serves them, canaries paused,
// the audit naming the file, idempotence, and an invalid file writing nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Flag } from '@rupaya/flags-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DefaultFlagsFileError,
  findDefaultFlagsFile,
  readFlagsFile,
  seedDefaultFlags,
  storageKinds,
} from '../src/index';
import { FLAGS, startTestServer, type TestServer } from './helpers';

const root = resolve(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'rupaya-seed-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const yamlFile = join(dir, 'flags.yaml');
writeFileSync(
  yamlFile,
  `version: 1
environments: [dev, qa]
flags:
  - key: feature.search-v2
    type: boolean
    description: Search v2
    rolloutPercentage: 5
    environments:
      qa: { rolloutPercentage: 100 }
  - key: canary.new-cache
    type: boolean
    stages:
      - { percent: 10, minDurationSec: 60 }
      - { percent: 100, minDurationSec: 0 }
  - key: feature.banner-text
    type: string
    variants:
      - { key: short, value: Hi }
      - { key: long, value: Hello there }
    defaultVariant: short
    environments:
      qa: { defaultVariant: long }
`,
);

describe('the default flags file', () => {
  it('is the repository config/feature-flags.json unless RUPAYA_FLAGS_FILE names another', () => {
    expect(findDefaultFlagsFile({})).toBe(join(root, 'config/feature-flags.json'));
    expect(findDefaultFlagsFile({ RUPAYA_FLAGS_FILE: yamlFile })).toBe(yamlFile);
    const file = readFlagsFile(join(root, 'config/feature-flags.json'));
    expect(file.environments).toEqual(['dev', 'staging', 'prod']);
    expect(file.flags).toHaveLength(9);
  });

  it('names the file and the field of every problem', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        version: 1,
        environments: ['dev'],
        flags: [{ key: 'feature.x', type: 'boolean', rolloutPercentage: 150, colour: 'red' }],
      }),
    );
    expect(() => readFlagsFile(bad)).toThrow(DefaultFlagsFileError);
    expect(() => readFlagsFile(bad)).toThrow(
      /bad\.json: invalid flags file: flags\[0\]\.colour: unknown field/,
    );
    writeFileSync(bad, '{ "version": 1, ');
    expect(() => readFlagsFile(bad)).toThrow(/bad\.json: not valid JSON/);
    expect(() => readFlagsFile(join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read/);
  });
});

describe.each(storageKinds)('seeding from a flags file on %s', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(kind, { RUPAYA_FLAGS_FILE: yamlFile });
  });
  afterAll(async () => {
    await s?.close();
  });

  const list = async (env: string) => {
    const r = await s.call<{ flags: Flag[] }>('GET', `${FLAGS}?environment=${env}`);
    expect(r.status).toBe(200);
    return new Map(r.body.flags.map((f) => [f.key, f]));
  };

  it('serves each listed environment the file flags with its overrides', async () => {
    const dev = await list('dev');
    expect([...dev.keys()].sort()).toEqual(['canary.new-cache', 'feature.banner-text', 'feature.search-v2']);
    expect(dev.get('feature.search-v2')).toMatchObject({ enabled: true, rolloutPercentage: 5 });
    expect(dev.get('feature.banner-text')).toMatchObject({ defaultVariant: 'short' });
    expect(dev.get('canary.new-cache')?.canary).toEqual({ stage: 0, status: 'paused', stageStartedAt: null });
    const qa = await list('qa');
    expect(qa.get('feature.search-v2')).toMatchObject({ rolloutPercentage: 100 });
    expect(qa.get('feature.banner-text')).toMatchObject({ defaultVariant: 'long' });
    // staging and prod always exist; the file lists neither, so no flag is seeded there.
    expect((await list('staging')).size).toBe(0);
  });

  it('audits each seeded configuration with the file it came from', async () => {
    const r = await s.call<{ entries: { action: string; actor: string; reason: string }[] }>(
      'GET',
      `${FLAGS}/feature.search-v2/audit?environment=qa`,
    );
    expect(r.status).toBe(200);
    expect(r.body.entries.at(-1)).toMatchObject({ action: 'seed', actor: 'seed' });
    expect(r.body.entries.at(-1)?.reason).toContain(yamlFile);
  });

  it('is idempotent, and an invalid file writes nothing', async () => {
    const again = await seedDefaultFlags(s.cp.db.db, { file: yamlFile });
    expect(again.created).toEqual([]);
    expect(again.file).toBe(yamlFile);
    const bad = join(dir, `bad-${kind}.json`);
    writeFileSync(
      bad,
      JSON.stringify({
        version: 1,
        environments: ['dev', 'qa3'],
        flags: [
          { key: 'feature.fine', type: 'boolean' },
          { key: 'feature.broken', type: 'boolean', environments: { qa3: { rolloutPercentage: -1 } } },
        ],
      }),
    );
    await expect(seedDefaultFlags(s.cp.db.db, { file: bad })).rejects.toThrow(
      /flags\[1\]\.rolloutPercentage \(qa3\)/,
    );
    expect((await list('dev')).has('feature.fine')).toBe(false);
    const envs = await s.call<{ environments: { key: string }[] }>(
      'GET',
      '/api/admin/deployment/environments',
    );
    expect(envs.body.environments.map((e) => e.key)).not.toContain('qa3');
  });
});
