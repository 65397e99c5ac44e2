ALTER TABLE "instances" ADD COLUMN "protected" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "end_reason" text;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "schema_diff" text;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "schema_diff_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "pull_requests" ADD COLUMN "pushed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "template_versions" ADD COLUMN "schema_snapshot" text;