DROP INDEX `jobs_claim`;--> statement-breakpoint
CREATE INDEX `jobs_claim` ON `jobs` (`status`,"priority" desc,`created_at`);