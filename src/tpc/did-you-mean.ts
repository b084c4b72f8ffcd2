// "did you mean" suggestions for misspelt keys and values.

/**
 * Edit distance counting insertions, deletions, substitutions and swaps of two
 * neighbours as one edit each (optimal string alignment), so "coers" is 1 from
 * "cores". Case-insensitive: "Cores" is 0 from "cores".
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  // d[i][j]: distance between the first i chars of s and the first j of t
  const d: number[][] = [];
  for (let i = 0; i <= s.length; i++) d.push([i, ...new Array<number>(t.length).fill(0)]);
  for (let j = 0; j <= t.length; j++) d[0]![j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[s.length]![t.length]!;
}

/**
 * The candidate closest to `word`, if it is close enough to be a likely typo:
 * at most one edit per three characters (at least one). Ties go to the
 * earlier candidate, so the answer is deterministic.
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word, c);
    // a plural/singular slip ("tpc" for "tpcs", "reserved" for "reserve") counts as close too
    const w = word.toLowerCase();
    const k = c.toLowerCase();
    const close = dist <= limit || (Math.min(w.length, k.length) >= 3 && (k.startsWith(w) || w.startsWith(k)));
    if (close && dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best;
}

/** `; did you mean "cores"?` or the empty string. */
export function suggestion(word: string, candidates: readonly string[]): string {
  const s = didYouMean(word, candidates);
  return s === undefined ? '' : `; did you mean "${s}"?`;
}
