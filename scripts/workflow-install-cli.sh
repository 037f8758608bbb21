#!/usr/bin/env bash
# Step "Install the rupaya CLI" of 14-manage-feature-flags.yml: installs the workspace's CLI and what it
# depends on, and builds it (packages/cli/dist/bin.js), with the pinned pnpm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npx --yes pnpm@12.4.2 install --frozen-lockfile --filter '@rupaya/cli...'
npx --yes pnpm@12.4.2 exec turbo run build --filter='@rupaya/cli...' --output-logs=errors-only
node packages/cli/dist/bin.js --version
