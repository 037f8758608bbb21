#!/usr/bin/env bash
# Step "Job summary" of 14-manage-feature-flags.yml (runs even when an earlier step failed): renders the result
# file as Markdown into $GITHUB_STEP_SUMMARY — action, environment, actor, and a result table.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=workflow-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/workflow-common.sh"

: "${GITHUB_STEP_SUMMARY:?GITHUB_STEP_SUMMARY is not set (GitHub Actions sets it)}"

# shellcheck disable=SC2016 # JavaScript, not shell: its ${...} are template literals
node --input-type=module -e '
  import { existsSync, readFileSync, appendFileSync } from "node:fs";
  const env = process.env;
  const esc = (v) => String(v ?? "-").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
  const fmt = (v) => (v === null || v === undefined ? "-" : typeof v === "object" ? JSON.stringify(v) : String(v));
  const lines = ["## Manage Feature Flags & Deployment", ""];
  let r = null;
  if (existsSync(env.RUPAYA_RESULT_FILE)) r = JSON.parse(readFileSync(env.RUPAYA_RESULT_FILE, "utf8"));
  const action = r?.action ?? env.ACTION;
  const environment = r?.environment ?? env.ENVIRONMENT;
  lines.push("| | |", "| --- | --- |");
  lines.push(`| Action | \`${esc(action)}\` |`);
  lines.push(`| Environment | \`${esc(environment)}\` |`);
  lines.push(`| Actor | ${esc(r?.actor ?? env.GITHUB_ACTOR)} |`);
  if (r?.flagKey) lines.push(`| Flag | \`${esc(r.flagKey)}\` |`);
  if (r?.percentage !== null && r?.percentage !== undefined) lines.push(`| Percentage | ${esc(r.percentage)} |`);
  if (r?.experimentKey) lines.push(`| Experiment | \`${esc(r.experimentKey)}\` |`);
  if (r?.reason) lines.push(`| Reason | ${esc(r.reason)} |`);
  const status = r === null ? "not run" : r.ok ? "success" : "failed";
  lines.push(`| Result | ${r?.ok ? "✅" : "❌"} ${status} |`, "");
  if (r && !r.ok && r.error) {
    lines.push(`**Error** \`${esc(r.error.code)}\`: ${esc(r.error.message)}`, "");
  }
  if (r?.ok) {
    const result = r.result;
    const flags = Array.isArray(result) ? result : Array.isArray(result?.flags) ? result.flags : null;
    lines.push("### Result", "");
    if (flags) {
      lines.push("| Flag | Type | Enabled | Rollout / stage |", "| --- | --- | --- | --- |");
      for (const f of flags) {
        const stages = Array.isArray(f.stages) ? f.stages : null;
        const state = stages
          ? `stage ${(f.canary?.stage ?? 0) + 1}/${stages.length} (${stages[f.canary?.stage ?? 0]?.percent ?? 0}%) ${f.canary?.status ?? ""}`
          : f.rolloutPercentage !== undefined ? `${f.rolloutPercentage}%` : "-";
        lines.push(`| \`${esc(f.key)}\` | ${esc(f.type)} | ${esc(f.enabled)} | ${esc(state)} |`);
      }
    } else if (result && typeof result === "object") {
      lines.push("| Field | Value |", "| --- | --- |");
      const walk = (obj, prefix) => {
        for (const [k, v] of Object.entries(obj)) {
          const key = prefix ? `${prefix}.${k}` : k;
          if (v && typeof v === "object" && !Array.isArray(v) && key.split(".").length < 3) walk(v, key);
          else lines.push(`| ${esc(key)} | ${esc(fmt(v)).slice(0, 300)} |`);
        }
      };
      walk(result, "");
    } else {
      lines.push(esc(fmt(result)));
    }
    lines.push("");
  }
  lines.push(`The full JSON result is attached to this run as the \`rupaya-result\` artifact.`, "");
  appendFileSync(env.GITHUB_STEP_SUMMARY, lines.join("\n") + "\n");
'
echo "summary written to $GITHUB_STEP_SUMMARY"
