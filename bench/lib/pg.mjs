// A fresh Postgres database per run (postgres://postgres@127.0.0.1:5432, trust auth), dropped after.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const PG = { host: '127.0.0.1', port: '5432', user: 'postgres' };

function psql(sql) {
  execFileSync(
    'psql',
    ['-h', PG.host, '-p', PG.port, '-U', PG.user, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qc', sql],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    },
  );
}

/** Runs a SQL script in one database (stops at the first error). */
export function psqlScript(database, sqlText) {
  execFileSync(
    'psql',
    ['-h', PG.host, '-p', PG.port, '-U', PG.user, '-d', database, '-v', 'ON_ERROR_STOP=1', '-q', '-f', '-'],
    { input: sqlText, stdio: ['pipe', 'pipe', 'pipe'], timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
  );
}

/** Runs one query in a database; returns its rows as arrays of strings (NULL → ''). */
export function psqlQuery(database, sqlText) {
  const out = execFileSync(
    'psql',
    [
      '-h',
      PG.host,
      '-p',
      PG.port,
      '-U',
      PG.user,
      '-d',
      database,
      '-v',
      'ON_ERROR_STOP=1',
      '-qAt',
      '-F',
      '\t',
      '-c',
      sqlText,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
  ).toString();
  return out
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t'));
}

export function postgresAvailable() {
  try {
    psql('SELECT 1');
    return true;
  } catch {
    return false;
  }
}

export function createDatabase(prefix = 'rupaya_bench') {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  psql(`CREATE DATABASE ${name}`);
  return {
    name,
    url: `postgres://${PG.user}@${PG.host}:${PG.port}/${name}`,
    drop() {
      try {
        psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } catch {
        // Best effort: a leftover bench database is harmless and named rupaya_bench_*.
      }
    },
  };
}
