CREATE TABLE "pull_requests" (
	"repo" text NOT NULL,
	"number" integer NOT NULL,
	"head_repo" text,
	"fork" boolean DEFAULT false NOT NULL,
	"state" text NOT NULL,
	"updated_at" timestamp with time zone,
	"seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"opened_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pull_requests_repo_number_pk" PRIMARY KEY("repo","number")
);
--> statement-breakpoint
CREATE TABLE "repositories" (
	"name" text PRIMARY KEY NOT NULL,
	"repo_id" bigint NOT NULL,
	"owner_id" bigint,
	"private" boolean,
	"first_seen" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "retry_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "last_fault" text;--> statement-breakpoint
ALTER TABLE "template_versions" ADD COLUMN "dump_fingerprint" text;