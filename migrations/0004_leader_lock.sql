CREATE TABLE "controller_leader" (
	"id" integer PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"host" text NOT NULL,
	"pid" integer NOT NULL,
	"backend_pid" integer NOT NULL,
	"since" timestamp with time zone DEFAULT now() NOT NULL
);
