#!/usr/bin/env bash
# Shared by the scripts of .github/workflows/14-manage-feature-flags.yml (sourced, never run on its own).
# Inputs arrive as environment variables; nothing here interpolates them into shell text.

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUPAYA_RESULT_FILE="${RUPAYA_RESULT_FILE:-rupaya-result.json}"
export RUPAYA_RESULT_FILE

# The rupaya binary: RUPAYA_CLI_BIN (a JS file run with node), else the repository's built CLI.
rupaya() {
  node "${RUPAYA_CLI_BIN:-$ROOT_DIR/packages/cli/dist/bin.js}" "$@"
}

# Writes the result file (the workflow's JSON artifact). Arguments: ok(true|false) exit_code result_json_file.
# The other fields come from the environment (ACTION, ENVIRONMENT, FLAG_KEY, ...), read by node, not by the shell.
write_result() {
  RESULT_OK="$1" RESULT_EXIT_CODE="$2" RESULT_BODY_FILE="${3:-}" node --input-type=module -e '
    import { readFileSync, writeFileSync } from "node:fs";
    const env = process.env;
    let body = null;
    if (env.RESULT_BODY_FILE) {
      const text = readFileSync(env.RESULT_BODY_FILE, "utf8").trim();
      try { body = text ? JSON.parse(text) : null; } catch { body = { output: text }; }
    }
    const ok = env.RESULT_OK === "true";
    const out = {
      action: env.ACTION ?? null,
      environment: env.ENVIRONMENT ?? null,
      flagKey: env.FLAG_KEY || null,
      percentage: env.PERCENTAGE ? Number(env.PERCENTAGE) : null,
      experimentKey: env.EXPERIMENT_KEY || null,
      reason: env.REASON || null,
      actor: env.GITHUB_ACTOR ?? null,
      repository: env.GITHUB_REPOSITORY ?? null,
      runId: env.GITHUB_RUN_ID ?? null,
      ok,
      exitCode: Number(env.RESULT_EXIT_CODE),
      finishedAt: new Date().toISOString(),
    };
    if (ok) out.result = body; else out.error = body && body.error ? body.error : body;
    writeFileSync(env.RUPAYA_RESULT_FILE, JSON.stringify(out, null, 2) + "\n");
  '
}
