/**
 * Latency histograms for the benchmarks: hdr-histogram-js recording nanoseconds (integers), summarised
 * in microseconds. Three significant digits: 0.1% resolution is far below run-to-run noise.
 */
import { build, type Histogram } from 'hdr-histogram-js';

export interface LatencySummary {
  readonly count: number;
  readonly p50_us: number;
  readonly p99_us: number;
  readonly p999_us: number;
  readonly max_us: number;
}

export function newHistogram(): Histogram {
  // bitBucketSize 64: counts never overflow; autoResize: a multi-second outlier still records.
  return build({ bitBucketSize: 64, lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** Records a duration given in milliseconds (performance.now() differences). */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.round(ms * 1e6)));
}

const us = (ns: number): number => Math.round(ns / 100) / 10;

export function summarise(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50_us: Number.NaN, p99_us: Number.NaN, p999_us: Number.NaN, max_us: Number.NaN };
  return {
    count: h.totalCount,
    p50_us: us(h.getValueAtPercentile(50)),
    p99_us: us(h.getValueAtPercentile(99)),
    p999_us: us(h.getValueAtPercentile(99.9)),
    max_us: us(h.maxValue),
  };
}
