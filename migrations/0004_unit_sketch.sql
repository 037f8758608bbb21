-- Distinct units per metrics row: the merged HyperLogLog sketch of the unit keys SDKs reported for the
-- series (null for rows only older SDKs reported) and its estimate. Nullable, no default: existing rows
-- are untouched.
ALTER TABLE "deployment_metrics" ADD COLUMN "unit_sketch" jsonb;--> statement-breakpoint
ALTER TABLE "deployment_metrics" ADD COLUMN "units" bigint;