-- The credentials audit: every creation and revocation of an SDK key or a minted token (who, what,
-- when), and who revoked each key and token. Existing keys and tokens get their history from what their
-- rows know: created by `created_by` at `created_at`; revoked at `revoked_at` by 'unknown' (not
-- recorded before this migration).
CREATE TABLE "credentials_audit" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"action" text NOT NULL,
	"credential_id" text NOT NULL,
	"environment" text,
	"key_prefix" text,
	"subject" text,
	"role" text,
	"actor" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "credentials_audit_action_ck" CHECK ("credentials_audit"."action" in ('sdk_key.created', 'sdk_key.revoked', 'token.minted', 'token.revoked'))
);
--> statement-breakpoint
ALTER TABLE "api_tokens" ADD COLUMN "revoked_by" text;--> statement-breakpoint
ALTER TABLE "sdk_keys" ADD COLUMN "revoked_by" text;--> statement-breakpoint
CREATE INDEX "credentials_audit_credential_idx" ON "credentials_audit" USING btree ("credential_id","id");--> statement-breakpoint
INSERT INTO "credentials_audit" ("action", "credential_id", "environment", "key_prefix", "subject", "role", "actor", "created_at")
  SELECT "action", "credential_id", "environment", "key_prefix", "subject", "role", "actor", "at" FROM (
    SELECT 'sdk_key.created' AS "action", "id" AS "credential_id", "environment", "key_prefix", NULL AS "subject", NULL AS "role", "created_by" AS "actor", "created_at" AS "at" FROM "sdk_keys"
    UNION ALL
    SELECT 'sdk_key.revoked', "id", "environment", "key_prefix", NULL, NULL, 'unknown', "revoked_at" FROM "sdk_keys" WHERE "revoked_at" IS NOT NULL
    UNION ALL
    SELECT 'token.minted', "id", NULL, NULL, "subject", "role", "created_by", "created_at" FROM "api_tokens"
    UNION ALL
    SELECT 'token.revoked', "id", NULL, NULL, "subject", "role", 'unknown', "revoked_at" FROM "api_tokens" WHERE "revoked_at" IS NOT NULL
  ) AS "history"
  ORDER BY "at", "credential_id", "action";
