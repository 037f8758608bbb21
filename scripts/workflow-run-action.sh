#!/usr/bin/env bash
# Step "Run action" of 14-manage-feature-flags.yml: calls the control plane through the rupaya CLI with a
# GitHub OIDC token and writes the JSON result file (the artifact). Exits with the CLI's exit code.
# Inputs: ACTION ENVIRONMENT FLAG_KEY PERCENTAGE EXPERIMENT_KEY REASON; RUPAYA_URL; RUPAYA_OIDC_AUDIENCE;
# GITHUB_ACTOR GITHUB_REPOSITORY GITHUB_RUN_ID; ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN (from id-token: write).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=workflow-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/workflow-common.sh"

: "${ACTION:?ACTION is required}"
: "${ENVIRONMENT:?ENVIRONMENT is required}"
: "${RUPAYA_URL:?RUPAYA_URL is required (set the repository or environment variable RUPAYA_URL)}"
export RUPAYA_URL RUPAYA_ENV="$ENVIRONMENT" RUPAYA_OIDC=true

# The audit log gets the person's reason plus who ran it from where.
reason="${REASON:-manual run}"
reason="$reason (GitHub Actions: ${GITHUB_ACTOR:-unknown} in ${GITHUB_REPOSITORY:-unknown}, run ${GITHUB_RUN_ID:-local})"

out="$(mktemp)"
trap 'rm -f "$out" "$out.2"' EXIT
status=0
case "$ACTION" in
  get_all_flags) rupaya flags list --json >"$out" || status=$? ;;
  enable_flag) rupaya flags enable "$FLAG_KEY" --reason "$reason" --json >"$out" || status=$? ;;
  disable_flag) rupaya flags disable "$FLAG_KEY" --reason "$reason" --json >"$out" || status=$? ;;
  set_rollout_percentage) rupaya flags set-rollout "$FLAG_KEY" "$PERCENTAGE" --reason "$reason" --json >"$out" || status=$? ;;
  advance_canary_stage) rupaya canary advance "$FLAG_KEY" --reason "$reason" --json >"$out" || status=$? ;;
  rollback_canary_stage) rupaya canary rollback "$FLAG_KEY" --reason "$reason" --json >"$out" || status=$? ;;
  get_health_status) rupaya health --json >"$out" || status=$? ;;
  get_metrics)
    if [[ -n "${FLAG_KEY:-}" ]]; then
      rupaya metrics --flag "$FLAG_KEY" --json >"$out" || status=$?
    else
      rupaya metrics --json >"$out" || status=$?
    fi
    ;;
  get_experiment_results)
    rupaya experiments results "$EXPERIMENT_KEY" --json >"$out" || status=$?
    if ((status == 0)); then
      rupaya experiments significance "$EXPERIMENT_KEY" --json >"$out.2" || status=$?
      if ((status == 0)); then
        node -e '
          const fs = require("node:fs");
          const [a, b] = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
          fs.writeFileSync(process.argv[1], JSON.stringify({ results: a, significance: b }));
        ' "$out" "$out.2"
      else
        cp "$out.2" "$out"
      fi
    fi
    ;;
  *)
    echo "error: unknown action '$ACTION' (run the validation step first)" >&2
    exit 2
    ;;
esac

if ((status == 0)); then
  write_result true 0 "$out"
  echo "ok: $ACTION in $ENVIRONMENT"
else
  write_result false "$status" "$out"
  printf '::error title=%s failed::see the job summary and the rupaya-result artifact\n' "$ACTION"
fi
exit "$status"
