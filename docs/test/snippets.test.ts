// Keeps the documentation true:
// - every ```ts snippet of README.md and docs/*.md type-checks (TypeScript compiler API) against the built packages;
// - every ```bash snippet marked `safe` runs (the `rupaya` CLI against a real control plane started here);
// - every other ```bash snippet only uses commands that exist (rupaya commands and options, scripts, pnpm scripts);
// - every error code of the control plane and every environment variable it reads is documented;
// - relative links point to files that exist.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { type RunningControlPlane, startControlPlane } from '@rupaya/control-plane';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands, globalOptionSpecs } from '../../packages/cli/src/run';

const root = resolve(import.meta.dirname, '../..');
const docFiles = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
].filter((f) => existsSync(join(root, f)));
const reference = readdirSync(join(root, 'docs/reference'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => `docs/reference/${f}`);

interface Snippet {
  file: string;
  line: number;
  lang: string;
  info: string;
  code: string;
}

function snippetsOf(file: string): Snippet[] {
  const text = readFileSync(join(root, file), 'utf8');
  const out: Snippet[] = [];
  const re = /^```([\w-]*)([^\n]*)\n([\s\S]*?)^```\s*$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({
      file,
      line: text.slice(0, m.index).split('\n').length,
      lang: m[1] ?? '',
      info: (m[2] ?? '').trim(),
      code: m[3] ?? '',
    });
  }
  return out;
}

const snippets = docFiles.flatMap(snippetsOf);
const tsSnippets = snippets.filter((s) => s.lang === 'ts' || s.lang === 'typescript');
const bashSnippets = snippets.filter((s) => s.lang === 'bash' || s.lang === 'sh');
const safeBash = bashSnippets.filter((s) => /\bsafe\b/.test(s.info));
const docsText = [...docFiles, ...reference].map((f) => readFileSync(join(root, f), 'utf8')).join('\n');
const guideText = readFileSync(join(root, 'docs/FEATURE_FLAGS_AND_DEPLOYMENT.md'), 'utf8');

describe('documentation snippets', () => {
  it('the guides exist and have snippets of both kinds', () => {
    expect(docFiles).toContain('docs/FEATURE_FLAGS_AND_DEPLOYMENT.md');
    expect(docFiles).toContain('docs/INTEGRATION_GUIDE.md');
    expect(tsSnippets.length).toBeGreaterThanOrEqual(5);
    expect(safeBash.length).toBeGreaterThanOrEqual(2);
  });

  it('every ts snippet type-checks against the built packages', () => {
    // Virtual files under e2e/ resolve packages like an application would: through node_modules, to the
    // packages' built `dist/*.d.ts` (express, fastify and @openfeature/server-sdk are e2e dependencies).
    const base = join(root, 'e2e', '__docs_snippets__');
    const files = new Map<string, string>();
    for (const [i, s] of tsSnippets.entries()) {
      const name = join(base, `${s.file.replace(/[^a-zA-Z0-9]+/g, '_')}_L${s.line}_${i}.ts`);
      const isModule = /^\s*(import|export)\s/m.test(s.code);
      files.set(name, `${s.code}\n${isModule ? '' : 'export {};\n'}`);
    }
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts'],
      types: ['node'],
      typeRoots: [join(root, 'node_modules/@types')],
      strict: true,
      noUncheckedIndexedAccess: true,
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
    };
    const host = ts.createCompilerHost(options);
    const { fileExists, readFile, getSourceFile } = host;
    host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
    host.readFile = (f) => files.get(f) ?? readFile.call(host, f);
    host.getSourceFile = (f, lang, ...rest) =>
      files.has(f)
        ? ts.createSourceFile(f, files.get(f)!, lang, true)
        : getSourceFile.call(host, f, lang, ...rest);
    const program = ts.createProgram([...files.keys()], options, host);
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && files.has(d.file.fileName))
      .map((d) => {
        const index = [...files.keys()].indexOf(d.file!.fileName);
        const s = tsSnippets[index]!;
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${s.file}:${s.line + 1 + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    if (problems.some((p) => /Cannot find module '@rupaya\//.test(p))) {
      problems.push('(build the packages first: npx pnpm@12.4.2 build)');
    }
    expect(problems).toEqual([]);
  }, 120_000);
});

/** Splits one shell command line into words (quotes and backslash escapes; no expansion). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) words.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has || cur) words.push(cur);
  return words;
}

function commandLines(code: string): string[] {
  return code
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

const rootScripts = Object.keys(
  (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts,
);

/** Problems of one command (a `&&`-separated part of a line), or []. */
function checkCommand(words: string[]): string[] {
  while (words[0] && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) words.shift();
  const [cmd, ...args] = words;
  if (!cmd) return [];
  switch (cmd) {
    case 'export':
    case 'cat':
    case 'curl':
    case 'cd':
    case 'echo':
      return [];
    case 'bash':
      return args[0] && !existsSync(join(root, args[0])) ? [`${args[0]} does not exist`] : [];
    case 'npm':
      return args[0] === 'install' ? [] : [`npm ${args[0]}: only \`npm install\` is expected in docs`];
    case 'npx': {
      if (args[0] === '--yes' || args[0] === '-y') args.shift();
      if (args[0] === 'pnpm@12.4.2') {
        const sub = args[1];
        if (sub === 'install' || sub === 'exec' || sub === 'add') return [];
        return sub && rootScripts.includes(sub) ? [] : [`pnpm script "${sub}" is not in package.json`];
      }
      return [`npx ${args[0]}: unexpected tool`];
    }
    case 'rupaya': {
      const positionals = args.filter(
        (a, i) => !a.startsWith('-') && !(args[i - 1]?.startsWith('--') && !isBooleanOption(args[i - 1]!)),
      );
      const two = positionals.slice(0, 2).join(' ');
      const command = commands.find((c) => c.name === two) ?? commands.find((c) => c.name === positionals[0]);
      if (!command) return [`rupaya ${two}: no such command`];
      const allowed = new Set([...Object.keys(globalOptionSpecs), ...Object.keys(command.options ?? {})]);
      return args
        .filter((a) => a.startsWith('--'))
        .map((a) => a.slice(2).split('=')[0]!)
        .filter((o) => !allowed.has(o))
        .map((o) => `rupaya ${command.name}: no option --${o}`);
    }
    default:
      return [`${cmd}: a command the docs test does not know (add it to the allowed list if it is real)`];
  }
}

function isBooleanOption(arg: string): boolean {
  const name = arg.slice(2);
  const spec = globalOptionSpecs[name] ?? commands.map((c) => c.options?.[name]).find(Boolean);
  return spec?.type === 'boolean';
}

describe('bash snippets', () => {
  it('use only commands that exist', () => {
    const problems: string[] = [];
    for (const s of bashSnippets) {
      for (const line of commandLines(s.code)) {
        for (const part of line.split(/&&|\|\||;/)) {
          for (const p of checkCommand(shellWords(part.trim())))
            problems.push(`${s.file}:${s.line}: ${p} — in "${line}"`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  const bin = join(root, 'packages/cli/dist/bin.js');
  if (!existsSync(bin))
    console.warn(`${bin} is missing: run \`npx pnpm@12.4.2 build\`; the safe bash snippets are not run`);
  describe.skipIf(!existsSync(bin))('marked safe, run against a real control plane', () => {
    let cp: RunningControlPlane;
    const shim = mkdtempSync(join(tmpdir(), 'rupaya-docs-'));
    const token = `rpy_admin_${'docs'.repeat(8)}`;
    beforeAll(async () => {
      cp = await startControlPlane({ pglite: 'memory', env: { ADMIN_API_TOKEN: token } });
      writeFileSync(join(shim, 'rupaya'), `#!/usr/bin/env bash\nexec node ${JSON.stringify(bin)} "$@"\n`);
      chmodSync(join(shim, 'rupaya'), 0o755);
    }, 180_000); // a control-plane start takes long on a loaded machine
    afterAll(async () => {
      await cp?.close();
      rmSync(shim, { recursive: true, force: true });
    });

    it.each(safeBash.map((s) => [`${s.file}:${s.line}`, s] as const))(
      '%s',
      async (_, s) => {
        const result = await new Promise<{ status: number | null; out: string }>((done) => {
          const child = spawn('bash', ['-euo', 'pipefail', '-c', s.code], {
            cwd: root,
            env: {
              ...process.env,
              PATH: `${shim}:${process.env.PATH}`,
              RUPAYA_URL: cp.url,
              RUPAYA_TOKEN: token,
            },
          });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.stderr.on('data', (d) => (out += d));
          child.on('close', (status) => done({ status, out }));
        });
        expect(result.status, result.out).toBe(0);
      },
      180_000,
    );
  });
});

describe('reference coverage', () => {
  const cpSrc = join(root, 'apps/control-plane/src');
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? sources(join(dir, e.name))
        : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')
          ? [join(dir, e.name)]
          : [],
    );
  const allSource = sources(cpSrc)
    .filter((f) => !f.endsWith('testing.ts'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');

  it('documents every error code of the control plane', () => {
    const errorsTs = readFileSync(join(cpSrc, 'errors.ts'), 'utf8');
    const catalogue = [...errorsTs.matchAll(/^\s+([A-Z][A-Z_]+): \{ status:/gm)].map((m) => m[1]!);
    const adHoc = [...allSource.matchAll(/new ApiError\(\s*\d+,\s*'([A-Z_]+)'/g)].map((m) => m[1]!);
    const codes = [...new Set([...catalogue, ...adHoc])];
    expect(catalogue.length).toBeGreaterThan(10);
    expect(codes.filter((c) => !guideText.includes(`\`${c}\``))).toEqual([]);
  });

  it('documents every environment variable the control plane reads', () => {
    const vars = new Set([
      ...[
        ...allSource.matchAll(
          /\b(?:str|num|bool|int|parseUrl|parseDuration)\((?:env, )?'([A-Z][A-Z0-9_]+)'/g,
        ),
      ].map((m) => m[1]!),
      ...[...allSource.matchAll(/new ConfigError\(\s*'([A-Z][A-Z0-9_]+)'/g)].map((m) => m[1]!),
      ...[...allSource.matchAll(/(?:process\.env|config\.env|\benv)\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!),
    ]);
    expect(vars.size).toBeGreaterThan(15);
    expect([...vars].filter((v) => !guideText.includes(`\`${v}\``))).toEqual([]);
  });

  it('documents every evaluation reason and flag naming prefix', () => {
    const types = readFileSync(join(root, 'packages/flags-core/src/snapshot/types.ts'), 'utf8');
    const reasonBlock = /export type Reason =([^;]+);/.exec(types)![1]!;
    const reasons = [...reasonBlock.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]!);
    expect(reasons.filter((r) => !guideText.includes(`\`${r}\``))).toEqual([]);
    for (const prefix of ['feature.', 'canary.', 'experiment.', 'rollback.'])
      expect(guideText).toContain(`\`${prefix}\``);
  });

  it('documents every rupaya command', () => {
    expect(
      commands
        .map((c) => c.name)
        .filter((name) => !docsText.includes(`rupaya ${name}`) && !guideText.includes(name)),
    ).toEqual([]);
  });

  it('relative links point to files that exist', () => {
    const broken: string[] = [];
    for (const file of [...docFiles, ...reference]) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (!target || /^[a-z]+:/.test(target)) continue;
        const path = resolve(dirname(join(root, file)), target);
        if (!existsSync(path)) broken.push(`${file}: ${m[1]} (${relative(root, path)})`);
      }
    }
    expect(broken).toEqual([]);
  });
});
