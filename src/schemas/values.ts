import { z } from '@hono/zod-openapi';
import { BitrateParseError, parseBitrate } from '../media/bitrate.js';
import { MAX_TIME_S, TimeParseError, parseTimeSeconds } from '../media/time.js';
import { TEXT_PROBLEM_MESSAGES, textProblem } from '../media/text.js';
import { WEBHOOK_EVENTS } from '../delivery/events.js';

/** Value types shared by the request schemas: storage URIs, times, bitrates, bounded decimals and free text. */

/** The largest bitrate any configuration allows; the key's own limit is applied by the planner. */
export const BITRATE_CEILING = 1_000_000_000;

export const StorageUri = z
  .string()
  .min(1)
  .max(2048)
  .openapi({ description: 'A storage URI such as upload:<uuid> or local:relative/path', example: 'upload:0190c5a4-7d4e-7c1a-9f5e-2b8f6a1d3c4e' });

export const Bitrate = z
  .union([
    z.number().int().min(1).max(BITRATE_CEILING),
    z.string().max(32).superRefine(reportParseError((text) => parseBitrate(text, BITRATE_CEILING))),
  ])
  .openapi({ description: 'Bits per second: an integer, or a decimal with k, M or G', example: '2.5M' });

/** Where a job's webhooks go; checked against the SSRF guard at submission (src/api/submit.ts). */
export const WebhookUrl = z
  .string()
  .max(2048)
  .url()
  .openapi({ description: 'An https URL that gets the signed job events (Standard Webhooks)', example: 'https://example.com/hooks/ffedge' });

export const WebhookEvents = z
  .array(z.enum(WEBHOOK_EVENTS))
  .min(1)
  .max(WEBHOOK_EVENTS.length)
  .refine((events) => new Set(events).size === events.length, 'an event is named twice')
  .openapi({ description: 'The events webhook_url gets (default: job.completed, job.failed, job.cancelled)' });

export const TimeValue = z
  .union([
    z.number().min(0).max(MAX_TIME_S),
    z.string().max(32).superRefine(reportParseError((text) => parseTimeSeconds(text))),
  ])
  .openapi({ description: 'Seconds, or hh:mm:ss.fff / mm:ss.fff', example: '00:01:30.500' });

/** A finite number in [min, max] with at most `places` decimal places, so it prints back exactly. */
export function decimal(min: number, max: number, places: number) {
  const scale = 10 ** places;
  return z
    .number()
    .min(min)
    .max(max)
    .refine((value) => Math.abs(value * scale - Math.round(value * scale)) < 1e-6, {
      message: places === 0 ? 'must be a whole number' : `must have at most ${places} decimal places`,
    });
}

/** Free text that reaches ffmpeg (captions, metadata): no control or bidi characters, valid Unicode. */
export function freeText(min: number, max: number) {
  return z
    .string()
    .min(min)
    .max(max)
    .superRefine((text, ctx) => {
      const problem = textProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', message: TEXT_PROBLEM_MESSAGES[problem] });
    });
}

/** Turns a parser's typed error into a zod issue carrying the parser's own message. */
export function reportParseError(parse: (text: string) => unknown) {
  return (text: string, ctx: z.RefinementCtx): void => {
    try {
      parse(text);
    } catch (error) {
      if (!(error instanceof BitrateParseError || error instanceof TimeParseError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message });
    }
  };
}
