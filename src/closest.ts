/**
 * The allowed value a client most likely meant, for a problem's `suggestion`: the same text in another case, a
 * prefix either way (`mp` -> `mp4`, `native2` -> `native`), or a small edit distance (`mp5` -> `mp4`, `resise` ->
 * `resize`, `h246` -> `h264`); for numbers, the nearest allowed number (`45` -> `90`). Nothing when no value is
 * close: a wrong guess is worse than none.
 */
export function closest(input: unknown, allowed: readonly (string | number)[]): string | number | undefined {
  const numbers = allowed.filter((value): value is number => typeof value === 'number');
  const number = typeof input === 'number' ? input : typeof input === 'string' && /^-?\d+(?:\.\d+)?$/.test(input.trim()) ? Number(input) : NaN;
  if (numbers.length > 0 && Number.isFinite(number)) {
    return numbers.reduce((best, value) => (Math.abs(value - number) < Math.abs(best - number) ? value : best));
  }
  if (typeof input !== 'string') return undefined;
  const text = input.trim().toLowerCase();
  if (text.length === 0 || text.length > 64) return undefined;
  const strings = allowed.filter((value): value is string => typeof value === 'string');
  const same = strings.find((value) => value.toLowerCase() === text);
  if (same !== undefined) return same;
  const prefix = strings.find((value) => {
    const candidate = value.toLowerCase();
    return (text.length >= 2 && candidate.startsWith(text)) || (candidate.length >= 2 && text.startsWith(candidate));
  });
  if (prefix !== undefined) return prefix;
  const budget = Math.max(1, Math.floor(text.length / 3));
  let best: string | undefined;
  let bestDistance = budget + 1;
  for (const value of strings) {
    const distance = editDistance(text, value.toLowerCase(), budget);
    if (distance < bestDistance) [best, bestDistance] = [value, distance];
  }
  return best;
}

/** Edit distance counting a swap of neighbours as one edit (`h246` -> `h264`), or budget + 1 once it must exceed it. */
function editDistance(a: string, b: string, budget: number): number {
  if (Math.abs(a.length - b.length) > budget) return budget + 1;
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_v, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
    }
    if (Math.min(...row) > budget) return budget + 1;
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}
