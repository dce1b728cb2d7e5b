ALTER TABLE `jobs` ADD `retention_s` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `outputs_expire_at` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `outputs_deleted_at` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `outputs_deleted_reason` text;--> statement-breakpoint
CREATE INDEX `jobs_outputs_expiry` ON `jobs` (`outputs_expire_at`) WHERE "jobs"."outputs_deleted_at" is null;--> statement-breakpoint
ALTER TABLE `uploads` ADD `expires_at` integer;--> statement-breakpoint
ALTER TABLE `uploads` ADD `deleted_at` integer;--> statement-breakpoint
CREATE INDEX `uploads_expiry` ON `uploads` (`expires_at`) WHERE "uploads"."deleted_at" is null;