CREATE TABLE "experiment_batches" (
	"kind" text NOT NULL,
	"environment" text NOT NULL,
	"instance_id" text NOT NULL,
	"batch_key" text NOT NULL,
	"accepted" integer NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "experiment_batches_kind_environment_instance_id_batch_key_pk" PRIMARY KEY("kind","environment","instance_id","batch_key")
);
--> statement-breakpoint
CREATE TABLE "experiment_metric_stats" (
	"environment" text NOT NULL,
	"experiment_key" text NOT NULL,
	"variant" text NOT NULL,
	"event" text NOT NULL,
	"converted" bigint DEFAULT 0 NOT NULL,
	"sum_count" double precision DEFAULT 0 NOT NULL,
	"sum_count_squares" double precision DEFAULT 0 NOT NULL,
	"sum_value" double precision DEFAULT 0 NOT NULL,
	"sum_value_squares" double precision DEFAULT 0 NOT NULL,
	CONSTRAINT "experiment_metric_stats_environment_experiment_key_variant_event_pk" PRIMARY KEY("environment","experiment_key","variant","event")
);
--> statement-breakpoint
CREATE TABLE "experiment_pending_events" (
	"environment" text NOT NULL,
	"unit_key" text NOT NULL,
	"event" text NOT NULL,
	"value" double precision,
	"occurred_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "experiment_results" (
	"environment" text NOT NULL,
	"experiment_key" text NOT NULL,
	"unit_key" text NOT NULL,
	"variant" text NOT NULL,
	"first_exposure_at" timestamp with time zone NOT NULL,
	"last_exposure_at" timestamp with time zone NOT NULL,
	"exposures" integer DEFAULT 1 NOT NULL,
	"conflicting" boolean DEFAULT false NOT NULL,
	"conflicting_variant" text,
	CONSTRAINT "experiment_results_environment_experiment_key_unit_key_pk" PRIMARY KEY("environment","experiment_key","unit_key")
);
--> statement-breakpoint
CREATE TABLE "experiment_unit_metrics" (
	"environment" text NOT NULL,
	"experiment_key" text NOT NULL,
	"unit_key" text NOT NULL,
	"event" text NOT NULL,
	"count" bigint DEFAULT 0 NOT NULL,
	"sum" double precision DEFAULT 0 NOT NULL,
	CONSTRAINT "experiment_unit_metrics_environment_experiment_key_unit_key_event_pk" PRIMARY KEY("environment","experiment_key","unit_key","event")
);
--> statement-breakpoint
CREATE TABLE "experiment_variant_units" (
	"environment" text NOT NULL,
	"experiment_key" text NOT NULL,
	"variant" text NOT NULL,
	"units" bigint DEFAULT 0 NOT NULL,
	"exposures" bigint DEFAULT 0 NOT NULL,
	"excluded_units" bigint DEFAULT 0 NOT NULL,
	"first_exposure_at" timestamp with time zone,
	CONSTRAINT "experiment_variant_units_environment_experiment_key_variant_pk" PRIMARY KEY("environment","experiment_key","variant")
);
--> statement-breakpoint
CREATE INDEX "experiment_pending_unit_idx" ON "experiment_pending_events" USING btree ("environment","unit_key");--> statement-breakpoint
CREATE INDEX "experiment_pending_received_idx" ON "experiment_pending_events" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "experiment_results_unit_idx" ON "experiment_results" USING btree ("environment","unit_key");--> statement-breakpoint
CREATE INDEX "experiment_results_variant_idx" ON "experiment_results" USING btree ("environment","experiment_key","variant");