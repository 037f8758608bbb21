-- experiment_unit_metrics carries the unit's variant (from experiment_results, where it is set at the
-- unit's first exposure and never changes), so the cold rebuild of the statistics is one grouped pass
-- over the per-unit metric rows instead of a join with every exposed unit. Existing rows are filled in
-- from experiment_results; a metric row without an exposure row was never part of any statistic (the
-- rebuild joined on experiment_results) and is removed.
ALTER TABLE "experiment_unit_metrics" ADD COLUMN "variant" text;--> statement-breakpoint
UPDATE "experiment_unit_metrics" AS m SET "variant" = r."variant" FROM "experiment_results" AS r
  WHERE r."environment" = m."environment" AND r."experiment_key" = m."experiment_key" AND r."unit_key" = m."unit_key";--> statement-breakpoint
DELETE FROM "experiment_unit_metrics" WHERE "variant" IS NULL;--> statement-breakpoint
ALTER TABLE "experiment_unit_metrics" ALTER COLUMN "variant" SET NOT NULL;--> statement-breakpoint
CREATE INDEX "experiment_results_conflicting_idx" ON "experiment_results" USING btree ("environment","experiment_key","unit_key") WHERE "experiment_results"."conflicting";
