CREATE TABLE "canary_deployment_logs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"flag_key" text NOT NULL,
	"environment" text NOT NULL,
	"run_id" text,
	"action" text NOT NULL,
	"from_stage" integer NOT NULL,
	"to_stage" integer NOT NULL,
	"from_percent" double precision NOT NULL,
	"to_percent" double precision NOT NULL,
	"from_status" text NOT NULL,
	"to_status" text NOT NULL,
	"automatic" boolean NOT NULL,
	"actor" text NOT NULL,
	"reason" text,
	"metrics" jsonb,
	"revision" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "environments" (
	"key" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"revision" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "feature_flags" (
	"key" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"description" text,
	"tags" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_by" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"archived_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "feature_flags_audit" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"flag_key" text NOT NULL,
	"environment" text,
	"action" text NOT NULL,
	"actor" text NOT NULL,
	"reason" text,
	"before" jsonb,
	"after" jsonb,
	"version" integer,
	"revision" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flag_configs" (
	"flag_key" text NOT NULL,
	"environment" text NOT NULL,
	"config" jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text NOT NULL,
	CONSTRAINT "flag_configs_environment_flag_key_pk" PRIMARY KEY("environment","flag_key")
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"topic" text NOT NULL,
	"environment" text,
	"payload" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "snapshot_revisions" (
	"environment" text NOT NULL,
	"revision" bigint NOT NULL,
	"checksum" text NOT NULL,
	"flags_json" text NOT NULL,
	"generated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"cause" text,
	CONSTRAINT "snapshot_revisions_environment_revision_pk" PRIMARY KEY("environment","revision")
);
--> statement-breakpoint
CREATE TABLE "webhooks" (
	"id" text PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"secret" text NOT NULL,
	"events" jsonb NOT NULL,
	"environment" text,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_by" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"subject" text NOT NULL,
	"role" text NOT NULL,
	"token_hash" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_tokens_role_ck" CHECK ("api_tokens"."role" in ('viewer', 'editor', 'admin'))
);
--> statement-breakpoint
CREATE TABLE "auth_secrets" (
	"name" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sdk_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"environment" text NOT NULL,
	"key_hash" text NOT NULL,
	"key_prefix" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "flag_configs" ADD CONSTRAINT "flag_configs_flag_key_feature_flags_key_fk" FOREIGN KEY ("flag_key") REFERENCES "public"."feature_flags"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flag_configs" ADD CONSTRAINT "flag_configs_environment_environments_key_fk" FOREIGN KEY ("environment") REFERENCES "public"."environments"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "snapshot_revisions" ADD CONSTRAINT "snapshot_revisions_environment_environments_key_fk" FOREIGN KEY ("environment") REFERENCES "public"."environments"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sdk_keys" ADD CONSTRAINT "sdk_keys_environment_environments_key_fk" FOREIGN KEY ("environment") REFERENCES "public"."environments"("key") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "canary_logs_flag_env_idx" ON "canary_deployment_logs" USING btree ("flag_key","environment","id");--> statement-breakpoint
CREATE INDEX "feature_flags_active_idx" ON "feature_flags" USING btree ("key") WHERE "feature_flags"."archived_at" is null;--> statement-breakpoint
CREATE INDEX "feature_flags_audit_flag_env_idx" ON "feature_flags_audit" USING btree ("flag_key","environment","id");--> statement-breakpoint
CREATE INDEX "flag_configs_flag_idx" ON "flag_configs" USING btree ("flag_key");--> statement-breakpoint
CREATE INDEX "outbox_pending_idx" ON "outbox" USING btree ("id") WHERE "outbox"."processed_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "api_tokens_token_hash_uq" ON "api_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "api_tokens_created_at_idx" ON "api_tokens" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "sdk_keys_key_hash_uq" ON "sdk_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "sdk_keys_environment_idx" ON "sdk_keys" USING btree ("environment","created_at");