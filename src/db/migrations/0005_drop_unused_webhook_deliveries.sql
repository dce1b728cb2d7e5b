DROP TABLE `webhook_deliveries`;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `webhook_secret` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `webhook_secret_previous` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `webhook_secret_previous_until` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `webhook_stopped_at` integer;