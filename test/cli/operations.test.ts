import { describe, expect, it } from 'vitest';
import { UsageError } from '../../packages/cli/src/exit-codes.js';
import { parseOperation } from '../../packages/cli/src/operations.js';

describe('--op', () => {
  it('reads type:key=value pairs, numbers and booleans as JSON has them, times and colours as text', () => {
    expect(parseOperation('trim:start=1,end=4')).toEqual({ type: 'trim', start: 1, end: 4 });
    expect(parseOperation('trim:start=00:00:01.5,duration=2.25')).toEqual({ type: 'trim', start: '00:00:01.5', duration: 2.25 });
    expect(parseOperation('flip:horizontal=true')).toEqual({ type: 'flip', horizontal: true });
    expect(parseOperation('remove_audio')).toEqual({ type: 'remove_audio' });
  });

  it('refuses what is not type:key=value', () => {
    expect(() => parseOperation('trim:start')).toThrow(UsageError);
    expect(() => parseOperation('Trim;rm -rf')).toThrow(UsageError);
  });
});
