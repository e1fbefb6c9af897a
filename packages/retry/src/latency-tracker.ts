// Log-linear buckets: 8 per doubling (each ~9% wide), from 1/16 ms up to ~17 minutes.
const PER_DOUBLING = 8;
const MIN_LOG2 = -4;
const BUCKETS = (20 - MIN_LOG2) * PER_DOUBLING + 1;

export interface LatencyTrackerOptions {
  /** The quantile tracked, 0..1. Default 0.95. */
  quantile?: number | undefined;
  /** How many recent samples count. Default 256. */
  size?: number | undefined;
  /** Samples needed before `value()` answers. Default 20. */
  minSamples?: number | undefined;
  /** Samples between two recomputations of the quantile. Default 16. */
  recomputeEvery?: number | undefined;
}

/**
 * The quantile of the last `size` latencies, cheap enough for every call: a ring of bucket
 * indexes plus bucket counts, so recording is O(1) and no sample is sorted. The answer is
 * the upper edge of the bucket holding the quantile: at most ~9% above the true value.
 */
export class LatencyTracker {
  private readonly q: number;
  private readonly ring: Uint8Array;
  private readonly counts = new Uint32Array(BUCKETS);
  private readonly minSamples: number;
  private readonly recomputeEvery: number;
  private pos = 0;
  private count = 0;
  private sinceCompute = 0;
  private cached: number | undefined;

  constructor(options: LatencyTrackerOptions = {}) {
    this.q = options.quantile ?? 0.95;
    this.ring = new Uint8Array(Math.max(1, options.size ?? 256));
    this.minSamples = Math.min(this.ring.length, options.minSamples ?? 20);
    this.recomputeEvery = Math.max(1, options.recomputeEvery ?? 16);
  }

  /** Records one latency in ms. */
  record(ms: number): void {
    const b = bucketOf(ms);
    if (this.count === this.ring.length) this.counts[this.ring[this.pos]!]! -= 1;
    else this.count++;
    this.ring[this.pos] = b;
    this.counts[b]! += 1;
    this.pos = this.pos + 1 === this.ring.length ? 0 : this.pos + 1;
    if (++this.sinceCompute >= this.recomputeEvery) this.cached = undefined;
  }

  /** The tracked quantile in ms, or undefined before `minSamples` samples. */
  value(): number | undefined {
    if (this.count < this.minSamples) return undefined;
    if (this.cached === undefined) {
      this.cached = this.compute();
      this.sinceCompute = 0;
    }
    return this.cached;
  }

  /** Samples currently in the window. */
  get size(): number {
    return this.count;
  }

  private compute(): number {
    const rank = Math.max(1, Math.ceil(this.q * this.count));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return upperEdge(b);
    }
    return upperEdge(BUCKETS - 1);
  }
}

function bucketOf(ms: number): number {
  if (!(ms > 2 ** MIN_LOG2)) return 0;
  const b = Math.ceil((Math.log2(ms) - MIN_LOG2) * PER_DOUBLING) - 1;
  return b < 0 ? 0 : b >= BUCKETS ? BUCKETS - 1 : b;
}

/** Bucket b holds (2^((b)/8 - 4), 2^((b+1)/8 - 4)]. */
function upperEdge(b: number): number {
  return 2 ** ((b + 1) / PER_DOUBLING + MIN_LOG2);
}
