// The core runs everywhere: build the ESM bundle, load it in headless Chromium (Debian's chromium
// driven by playwright-core) from a loopback HTTP server, and check the golden vectors there.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvaluationResult } from '../src/snapshot/types';
import { expectedOf } from './vector-cases';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn('install chromium (apt-get install chromium) to run the browser test');

const pkg = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const vectors = (name: string) => JSON.parse(readFileSync(pkg(`test-vectors/${name}`), 'utf8'));

interface BrowserOutput {
  userAgent: string;
  hashes: number[];
  buckets: [number, number, number, number][];
  scenarios: {
    parseErrors?: unknown;
    results?: { result: EvaluationResult; isEnabled: boolean; variant: string | null }[];
  }[];
}

describe.skipIf(!hasChromium)('golden vectors in headless Chromium', () => {
  let outDir = '';
  let server: Server | undefined;
  let output: BrowserOutput;
  let bundleBytes = 0;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'rupaya-core-browser-'));
    // The same ESM bundle a browser app would get (pure core, no node: imports), minified.
    await build({
      entry: { 'flags-core': pkg('src/index.ts') },
      format: ['esm'],
      platform: 'browser',
      target: 'es2022',
      outDir,
      dts: false,
      sourcemap: false,
      minify: true,
      clean: false,
      silent: true,
      config: false,
    });
    const bundle = join(outDir, 'flags-core.js');
    bundleBytes = statSync(bundle).size;
    const files: Record<string, [string, string]> = {
      '/index.html': ['<!doctype html><title>rupaya core</title>', 'text/html'],
      '/flags-core.js': [bundle, 'text/javascript'],
      '/run.js': [pkg('test/fixtures/browser-run.js'), 'text/javascript'],
      '/vectors/murmur3.json': [pkg('test-vectors/murmur3.json'), 'application/json'],
      '/vectors/bucket.json': [pkg('test-vectors/bucket.json'), 'application/json'],
      '/vectors/evaluation.json': [pkg('test-vectors/evaluation.json'), 'application/json'],
    };
    server = createServer((req, res) => {
      const file = files[req.url ?? ''];
      if (file === undefined) {
        res.writeHead(404).end();
        return;
      }
      const [source, type] = file;
      res.writeHead(200, { 'content-type': `${type}; charset=utf-8` });
      res.end(source.startsWith('<') ? source : readFileSync(source));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/index.html`);
      // A string, so the test runner's transform leaves the page's dynamic import alone.
      output = (await page.evaluate("import('/run.js').then((m) => m.run())")) as BrowserOutput;
    } finally {
      await browser.close();
    }
  }, 90_000);

  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('ran in Chromium', () => {
    expect(output.userAgent).toMatch(/Chrome/);
    expect(bundleBytes).toBeGreaterThan(1000);
    console.log(
      `core ESM bundle: ${bundleBytes} bytes minified, ${gzipSync(readFileSync(join(outDir, 'flags-core.js'))).length} gzip`,
    );
  });

  it('hashes every murmur3 vector identically', () => {
    const cases = vectors('murmur3.json').cases as { hash: number }[];
    expect(output.hashes).toEqual(cases.map((c) => c.hash));
  });

  it('buckets every bucket vector identically', () => {
    const cases = vectors('bucket.json').cases as {
      saltSeed: number;
      variantSeed: number;
      bucket: number;
      variantBucket: number;
    }[];
    expect(output.buckets).toEqual(cases.map((c) => [c.saltSeed, c.variantSeed, c.bucket, c.variantBucket]));
  });

  it('evaluates every evaluation vector identically', () => {
    const scenarios = vectors('evaluation.json').scenarios as {
      cases: { expected: Record<string, unknown> }[];
    }[];
    expect(output.scenarios).toHaveLength(scenarios.length);
    scenarios.forEach((scenario, i) => {
      const got = output.scenarios[i]!;
      expect(got.parseErrors).toBeUndefined();
      expect(got.results!.map((r) => expectedOf(r.result))).toEqual(scenario.cases.map((c) => c.expected));
      for (const r of got.results!) {
        expect(r.isEnabled).toBe(r.result.enabled);
        expect(r.variant).toBe(r.result.variant);
      }
    });
  });
});
