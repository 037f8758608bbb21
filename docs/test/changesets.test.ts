// Every pending changeset must be readable by `changeset version`: a formatter once turned a
// changeset's front matter into a Markdown heading, and a changeset naming both a published and an
// ignored package (the private control plane) is refused. `changeset status` reads them all.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = fileURLToPath(new URL('../../node_modules/@changesets/cli/bin.js', import.meta.url));

it('every pending changeset parses and names only releasable packages', () => {
  const r = spawnSync(process.execPath, [bin, 'status', '--verbose'], { cwd: root, encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  expect(output).not.toContain('error');
  expect(r.status, output).toBe(0);
});
