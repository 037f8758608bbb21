#!/usr/bin/env bash
# Step "Validate inputs" of 14-manage-feature-flags.yml: fails the run with a clear message before any call
# when an input is missing or out of range. Inputs: ACTION ENVIRONMENT FLAG_KEY PERCENTAGE EXPERIMENT_KEY REASON.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=workflow-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/workflow-common.sh"

ACTION="${ACTION:-}"
ENVIRONMENT="${ENVIRONMENT:-}"
FLAG_KEY="${FLAG_KEY:-}"
PERCENTAGE="${PERCENTAGE:-}"
EXPERIMENT_KEY="${EXPERIMENT_KEY:-}"
REASON="${REASON:-}"

fail() {
  printf '::error title=Invalid input::%s\n' "$1"
  printf 'error: %s\n' "$1" >&2
  local tmp
  tmp="$(mktemp)"
  VALIDATION_MESSAGE="$1" node -e 'process.stdout.write(JSON.stringify({ error: { code: "INVALID_INPUT", message: process.env.VALIDATION_MESSAGE } }))' >"$tmp"
  write_result false 2 "$tmp"
  rm -f "$tmp"
  exit 2
}

key_pattern='^[a-z0-9][a-z0-9._-]{0,199}$'

case "$ACTION" in
  get_all_flags | get_health_status | get_metrics) ;;
  enable_flag | disable_flag | set_rollout_percentage | advance_canary_stage | rollback_canary_stage)
    [[ -n "$FLAG_KEY" ]] || fail "flag_key is required for action $ACTION"
    ;;
  get_experiment_results)
    [[ -n "$EXPERIMENT_KEY" ]] || fail "experiment_key is required for action get_experiment_results"
    ;;
  "") fail "action is required" ;;
  *) fail "action must be one of get_all_flags, enable_flag, disable_flag, set_rollout_percentage, advance_canary_stage, rollback_canary_stage, get_health_status, get_metrics, get_experiment_results (got '$ACTION')" ;;
esac

case "$ENVIRONMENT" in
  dev | staging | prod) ;;
  *) fail "environment must be dev, staging or prod (got '$ENVIRONMENT')" ;;
esac

if [[ -n "$FLAG_KEY" && ! "$FLAG_KEY" =~ $key_pattern ]]; then
  fail "flag_key must be lower-case letters, digits, '.', '_' or '-' (like feature.new-dashboard), got '$FLAG_KEY'"
fi
if [[ -n "$EXPERIMENT_KEY" && ! "$EXPERIMENT_KEY" =~ $key_pattern ]]; then
  fail "experiment_key must be lower-case letters, digits, '.', '_' or '-' (like experiment.checkout-redesign), got '$EXPERIMENT_KEY'"
fi

if [[ "$ACTION" == set_rollout_percentage ]]; then
  [[ -n "$PERCENTAGE" ]] || fail "percentage is required for action set_rollout_percentage"
  if [[ ! "$PERCENTAGE" =~ ^[0-9]+(\.[0-9]{1,3})?$ ]]; then
    fail "percentage must be a number from 0 to 100 with at most 3 decimals, got '$PERCENTAGE'"
  fi
  whole="${PERCENTAGE%%.*}"
  if ((10#$whole > 100)) || { ((10#$whole == 100)) && [[ "$PERCENTAGE" =~ \.[0-9]*[1-9] ]]; }; then
    fail "percentage must be between 0 and 100, got '$PERCENTAGE'"
  fi
fi

if ((${#REASON} > 500)); then
  fail "reason must be at most 500 characters (got ${#REASON})"
fi

echo "inputs ok: action=$ACTION environment=$ENVIRONMENT"
