CREATE TABLE "instances" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"owner" text NOT NULL,
	"template" text NOT NULL,
	"engine" text NOT NULL,
	"version_id" text,
	"pinned_version_id" text,
	"status" text NOT NULL,
	"desired" text DEFAULT 'present' NOT NULL,
	"port" integer,
	"password" text NOT NULL,
	"container_id" text,
	"error" text,
	"generation" integer DEFAULT 0 NOT NULL,
	"applied_generation" integer DEFAULT 0 NOT NULL,
	"expires_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ready_at" timestamp with time zone,
	"destroyed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "template_versions" (
	"id" text PRIMARY KEY NOT NULL,
	"template" text NOT NULL,
	"engine" text NOT NULL,
	"status" text NOT NULL,
	"image" text NOT NULL,
	"database" text,
	"admin_password" text NOT NULL,
	"size_bytes" bigint,
	"error" text,
	"phase" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ready_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" text PRIMARY KEY NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "instances_owner_template_live" ON "instances" USING btree ("owner","template") WHERE status <> 'destroyed';--> statement-breakpoint
CREATE UNIQUE INDEX "instances_name_live" ON "instances" USING btree ("name") WHERE status <> 'destroyed';--> statement-breakpoint
CREATE UNIQUE INDEX "instances_port_live" ON "instances" USING btree ("port") WHERE status <> 'destroyed' and port is not null;--> statement-breakpoint
CREATE INDEX "instances_status_idx" ON "instances" USING btree ("status");--> statement-breakpoint
CREATE INDEX "template_versions_template_idx" ON "template_versions" USING btree ("template","created_at");