CREATE TABLE `tus_uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`api_key_id` text NOT NULL,
	`length` integer NOT NULL,
	`offset` integer DEFAULT 0 NOT NULL,
	`parts` text NOT NULL,
	`metadata` text,
	`filename` text,
	`content_type` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`completed_at` integer,
	`finishing_until` integer
);
--> statement-breakpoint
CREATE INDEX `tus_uploads_expiry` ON `tus_uploads` (`expires_at`);