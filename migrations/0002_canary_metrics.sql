CREATE TABLE "deployment_metrics" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"environment" text NOT NULL,
	"flag_key" text NOT NULL,
	"granularity" text NOT NULL,
	"window_start_ms" bigint NOT NULL,
	"duration_ms" integer NOT NULL,
	"stage" integer DEFAULT -1 NOT NULL,
	"cohort" text DEFAULT '' NOT NULL,
	"variant" text DEFAULT '' NOT NULL,
	"endpoint" text NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"error_rate" double precision,
	"p50" double precision,
	"p95" double precision,
	"p99" double precision,
	"rps" double precision DEFAULT 0 NOT NULL,
	"sketch" jsonb,
	"top_errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"reports" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flag_usage" (
	"environment" text NOT NULL,
	"flag_key" text NOT NULL,
	"variant" text DEFAULT '' NOT NULL,
	"window_start_ms" bigint NOT NULL,
	"count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "flag_usage_environment_window_start_ms_flag_key_variant_pk" PRIMARY KEY("environment","window_start_ms","flag_key","variant")
);
--> statement-breakpoint
CREATE TABLE "guard_states" (
	"environment" text NOT NULL,
	"flag_key" text NOT NULL,
	"last_healthy_percent" double precision NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "guard_states_environment_flag_key_pk" PRIMARY KEY("environment","flag_key")
);
--> statement-breakpoint
CREATE TABLE "instance_gauges" (
	"environment" text NOT NULL,
	"instance_id" text NOT NULL,
	"window_start_ms" bigint NOT NULL,
	"duration_ms" integer NOT NULL,
	"heap_used_percent" double precision,
	"rss_bytes" double precision,
	"cpu_percent" double precision,
	"event_loop_delay_p99_ms" double precision,
	"db_pool_saturation_percent" double precision,
	"db_pool_waiters" double precision,
	CONSTRAINT "instance_gauges_environment_window_start_ms_instance_id_pk" PRIMARY KEY("environment","window_start_ms","instance_id")
);
--> statement-breakpoint
CREATE TABLE "metric_batches" (
	"instance_id" text NOT NULL,
	"batch_key" text NOT NULL,
	"environment" text NOT NULL,
	"windows" integer NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "metric_batches_instance_id_batch_key_pk" PRIMARY KEY("instance_id","batch_key")
);
--> statement-breakpoint
CREATE TABLE "rollback_decisions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"environment" text NOT NULL,
	"flag_key" text NOT NULL,
	"kind" text NOT NULL,
	"run_id" text,
	"stage" integer NOT NULL,
	"percent" double precision NOT NULL,
	"action" text NOT NULL,
	"outcome" text NOT NULL,
	"applied" boolean NOT NULL,
	"reasons" jsonb NOT NULL,
	"checks" jsonb NOT NULL,
	"stats" jsonb NOT NULL,
	"policy" jsonb NOT NULL,
	"treatment_requests" bigint NOT NULL,
	"control_requests" bigint NOT NULL,
	"z" double precision,
	"p_value" double precision,
	"latest_window_start_ms" bigint,
	"trigger" text NOT NULL,
	"leader" text NOT NULL,
	"canary_log_id" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"outbox_id" bigint NOT NULL,
	"webhook_id" text NOT NULL,
	"topic" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_status_code" integer,
	"last_error" text,
	"log" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"delivered_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "webhooks" ADD COLUMN "format" text DEFAULT 'json' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "deployment_metrics_series_idx" ON "deployment_metrics" USING btree ("environment","flag_key","granularity","window_start_ms","stage","cohort","variant","endpoint");--> statement-breakpoint
CREATE INDEX "deployment_metrics_env_time_idx" ON "deployment_metrics" USING btree ("environment","granularity","window_start_ms");--> statement-breakpoint
CREATE INDEX "metric_batches_received_idx" ON "metric_batches" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "rollback_decisions_flag_idx" ON "rollback_decisions" USING btree ("environment","flag_key","id");--> statement-breakpoint
CREATE INDEX "rollback_decisions_created_idx" ON "rollback_decisions" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_event_hook_idx" ON "webhook_deliveries" USING btree ("outbox_id","webhook_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_hook_idx" ON "webhook_deliveries" USING btree ("webhook_id","id");