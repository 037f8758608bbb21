#!/usr/bin/env bash
# Sets up Rupaya Flags' deployment features: prerequisites, migrations, default flags, admin token, and a
# verification of the service (started on a free loopback port and stopped again). A thin wrapper of
# `rupaya setup`; reads DATABASE_URL (Postgres) or RUPAYA_DATA_DIR (PGlite), and ADMIN_API_TOKEN if set.
# Extra arguments go to `rupaya setup` (e.g. --json).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli="${RUPAYA_CLI_BIN:-$root/packages/cli/dist/bin.js}"

if ! command -v node >/dev/null 2>&1; then
  echo "error: Node.js 20.18 or newer is required (https://nodejs.org)" >&2
  exit 1
fi
if [[ ! -f "$cli" ]]; then
  echo "error: $cli is missing; build first: npx pnpm@12.4.2 install && npx pnpm@12.4.2 build" >&2
  exit 1
fi
exec node "$cli" setup "$@"
