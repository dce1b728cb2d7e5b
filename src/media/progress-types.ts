export const STAGES = ['queued', 'fetching', 'probing', 'processing', 'uploading', 'done'] as const;
export type Stage = (typeof STAGES)[number];

/** The progress of a job as DESIGN.md defines it. */
export interface Progress {
  /** out_time / expected output duration, clamped to [0, 100], never decreasing; null when unknown. */
  percentage: number | null;
  stage: Stage;
  fps: number | null;
  speed: number | null;
  out_time_s: number | null;
  eta_s: number | null;
}
