/** One benchmark figure: `baseline` is the same work by the reference in the same run (or a target ratio), null when none. */
export interface BenchResult {
  bench: string;
  value: number;
  unit: string;
  baseline: number | null;
}
