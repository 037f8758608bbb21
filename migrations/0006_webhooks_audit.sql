-- Webhooks join the credentials audit (a webhook holds a signing secret and sends events out): their
-- creation, changes, secret rotations and deletion are audited, and a deleted webhook keeps when and by
-- whom it was deleted. Existing webhooks get their creation from their rows (created by `created_by` at
-- `created_at`); a webhook deleted before this migration has no record of when or by whom.
ALTER TABLE "credentials_audit" DROP CONSTRAINT "credentials_audit_action_ck";--> statement-breakpoint
ALTER TABLE "webhooks" ADD COLUMN "deleted_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "webhooks" ADD COLUMN "deleted_by" text;--> statement-breakpoint
ALTER TABLE "credentials_audit" ADD CONSTRAINT "credentials_audit_action_ck" CHECK ("credentials_audit"."action" in ('sdk_key.created', 'sdk_key.revoked', 'token.minted', 'token.revoked', 'webhook.created', 'webhook.updated', 'webhook.secret_rotated', 'webhook.deleted'));--> statement-breakpoint
INSERT INTO "credentials_audit" ("action", "credential_id", "environment", "actor", "created_at")
  SELECT 'webhook.created', "id", "environment", "created_by", "created_at" FROM "webhooks"
  ORDER BY "created_at", "id";
