/** Two-pass plans: the measuring run's log read back into the next run's arguments. */
import { describe, expect, it } from 'vitest';
import { measurementsFrom } from '../../../src/media/plan.js';
import { parseLoudnormMeasurement } from '../../../src/media/ops/loudnorm.js';
import { expectPlan, plan } from './support.js';

/** The end of a real `loudnorm=print_format=json` run's log, as the native engine scrubs it. */
const LOG = `size=N/A time=00:00:02.00 bitrate=N/A speed=24.1x
video:0kB audio:752kB subtitle:0kB other streams:0kB global headers:0kB muxing overhead: unknown
[Parsed_loudnorm_0]
{
\t"input_i" : "-21.79",
\t"input_tp" : "-16.08",
\t"input_lra" : "0.00",
\t"input_thresh" : "-31.79",
\t"output_i" : "-16.00",
\t"output_tp" : "-10.30",
\t"output_lra" : "0.00",
\t"output_thresh" : "-26.00",
\t"normalization_type" : "linear",
\t"target_offset" : "-0.00"
}`;

describe('loudnorm measurement', () => {
  it('reads loudnorm’s JSON from the end of the log', () => {
    expect(parseLoudnormMeasurement(LOG)).toEqual({ input_i: -21.79, input_tp: -16.08, input_lra: 0, input_thresh: -31.79, target_offset: 0 });
    expect(measurementsFrom(LOG).loudnorm?.input_i).toBe(-21.79);
  });

  it('takes the last block, so text the input printed earlier in the log cannot stand in for it', () => {
    const forged = `title : {"input_i" : "-5.00", "input_tp" : "0", "input_lra" : "1", "input_thresh" : "-10", "target_offset" : "0"}\n${LOG}`;
    expect(parseLoudnormMeasurement(forged)?.input_i).toBe(-21.79);
  });

  it('gives null (and the next pass falls back to one-pass normalisation) for silence, garbage or a missing block', () => {
    expect(parseLoudnormMeasurement(LOG.replace('"-21.79"', '"-inf"'))).toBeNull();
    expect(parseLoudnormMeasurement(LOG.replace('"-16.08"', '"-16.08:print_format=json"'))).toBeNull();
    expect(parseLoudnormMeasurement(LOG.replace('"0.00",\n\t"input_thresh"', '"120",\n\t"input_thresh"'))).toBeNull();
    expect(parseLoudnormMeasurement('no json here')).toBeNull();
    expect(parseLoudnormMeasurement('{ not json }')).toBeNull();
    const fallback = expectPlan(plan({ output: 'mp3', operations: [{ type: 'loudnorm' }] }, { measurements: { loudnorm: null } }));
    expect(fallback.args).toContain('loudnorm=I=-16:TP=-1.5:LRA=11,aformat=sample_rates=48000');
  });
});

describe('passes', () => {
  it('a plan re-made with the measurements keeps its passes and changes only what was measured', () => {
    const body = { output: 'mp4', operations: [{ type: 'stabilize' }, { type: 'loudnorm', integrated: -14 }] };
    const first = expectPlan(plan(body));
    const second = expectPlan(plan(body, { measurements: measurementsFrom(LOG) }));
    expect(second.passes.map((pass) => [pass.kind, pass.weight])).toEqual(first.passes.map((pass) => [pass.kind, pass.weight]));
    expect(second.passes[0]!.args).toEqual(first.passes[0]!.args);
    expect(second.args.join(' ')).toContain('measured_I=-21.79');
    expect(first.args.join(' ')).not.toContain('measured_I');
    // One measuring run serves both: video to vidstabdetect, audio to loudnorm.
    expect(first.passes[0]!.args.join(' ')).toMatch(/-map 0:0 -map 0:1 -vf vidstabdetect=.* -af loudnorm=I=-14:TP=-1.5:LRA=11:print_format=json -f null -$/);
  });

  it('weights sum to 1, and a single run is the whole', () => {
    for (const body of [{ output: 'mp4' }, { output: 'mp3', operations: [{ type: 'loudnorm' }] }, { output: 'mp4', operations: [{ type: 'stabilize' }] }]) {
      const result = expectPlan(plan(body));
      expect(result.passes.reduce((sum, pass) => sum + pass.weight, 0)).toBeCloseTo(1, 9);
      expect(result.passes.at(-1)!.args).toEqual(result.args);
    }
  });
});
