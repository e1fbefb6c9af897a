import { AT_END, AT_START, BitParallelNfa, holds, NEXT_WORD, PREV_WORD } from './regex-bit-nfa.ts';
import {
  type ASSERT,
  buildNfa,
  type CHAR,
  type MATCH,
  MAX_REGEX_STATES,
  type Nfa,
  type SPLIT,
  stateCount,
} from './regex-nfa.ts';
import { parseRegex } from './regex-parse.ts';

// Local copies for the hot loop (an imported binding is read through a checked cell).
const OP_CHAR: typeof CHAR = 0;
const OP_SPLIT: typeof SPLIT = 1;
const OP_ASSERT: typeof ASSERT = 2;
const OP_MATCH: typeof MATCH = 3;

/**
 * Longest value a route regex is tried on; a longer value does not match (routing falls through
 * to later routes). With MAX_REGEX_STATES it bounds the worst case of one match (docs/decisions.md).
 */
export const MAX_REGEX_INPUT_LENGTH = 8192;

/** Most DFA states cached per regex; on overflow the cache is flushed and matching goes on. */
const MAX_DFA_STATES = 2048;
/** Cap on cached transitions (states x classes) and on stored NFA-state sets, per regex. */
const MAX_TABLE_ENTRIES = 1 << 16;
const MAX_KERNEL_ENTRIES = 1 << 16;

// Within one match, past this many DFA misses and one miss per MISS_RATIO characters, the
// rest of the value is matched on the bit-parallel NFA (regex-bit-nfa.ts).
const MISSES_BEFORE_NFA = 16;
const MISS_RATIO = 32;

const DEAD = 0;
const START = 1;

/**
 * A regex that tests whether it matches a WHOLE value, in time linear in the value's length:
 * a lazy DFA over a Thompson NFA (DFA states are sets of NFA states, built on demand and
 * cached with one transition table per state; the cache is bounded and flushed when full, as in
 * RE2). When a value mostly misses the cache (a pattern whose DFA is exponential), the rest of
 * it runs on a bit-parallel NFA, whose step costs the same whatever the input. A cached step is
 * two array reads.
 */
export class LinearRegex {
  readonly source: string;
  readonly nfa: Nfa;
  private readonly k: number;
  private readonly maxStates: number;
  /** `trans[state * k + class]`: next state + 1, or 0 when not computed yet. */
  private trans: Int32Array;
  /** Per state: -1 unknown, 0 rejects, 1 accepts at the end of the value. */
  private accepting: Int8Array;
  private flags: Uint8Array;
  /** Per state, the NFA states reached after the last code unit (before following ε-moves). */
  private kernelStart: Int32Array;
  private kernels: Int32Array;
  private kernelUsed = 0;
  private count = 0;
  private readonly ids = new Map<string, number>();
  /** Times the DFA cache was flushed (a pattern whose DFA does not fit the cache). */
  flushes = 0;
  /** Matches finished on the bit-parallel NFA because they mostly missed the DFA cache. */
  fallbacks = 0;
  // Scratch, sized to the NFA.
  private readonly mark: Int32Array;
  private generation = 0;
  private readonly stack: Int32Array;
  private readonly markNext: Int32Array;
  private readonly next: Int32Array;
  /** Built with the regex (on rule change), not on the first hostile request. */
  private readonly bitNfa: BitParallelNfa;
  private readonly bits: Uint16Array;
  private readonly startKernel: Int32Array;

  /** Throws on a pattern regexProblem() rejects; validate first. */
  constructor(pattern: string) {
    const parsed = parseRegex(pattern);
    if (!parsed.ok) throw new Error(`unsupported regex: ${parsed.problem}`);
    const states = stateCount(parsed.node);
    if (!(states <= MAX_REGEX_STATES)) throw new Error(`regex expands to ${states} states`);
    this.source = pattern;
    this.nfa = buildNfa(parsed.node);
    const size = this.nfa.size;
    this.k = this.nfa.classes;
    this.maxStates = Math.max(16, Math.min(MAX_DFA_STATES, Math.floor(MAX_TABLE_ENTRIES / this.k)));
    const initial = Math.min(this.maxStates, 16);
    this.trans = new Int32Array(initial * this.k);
    this.accepting = new Int8Array(initial);
    this.flags = new Uint8Array(initial);
    this.kernelStart = new Int32Array(initial + 1);
    this.kernels = new Int32Array(Math.min(MAX_KERNEL_ENTRIES, Math.max(64, size * 2)));
    this.mark = new Int32Array(size);
    this.stack = new Int32Array(size);
    this.markNext = new Int32Array(size);
    this.next = new Int32Array(size);
    this.bits = new Uint16Array(((size + 15) >> 4) + 1);
    this.startKernel = Int32Array.of(this.nfa.start);
    this.bitNfa = new BitParallelNfa(this.nfa);
    this.reset();
  }

  /** Whether the regex matches all of `value` (false for values over MAX_REGEX_INPUT_LENGTH). */
  test(value: string): boolean {
    const n = value.length;
    if (n > MAX_REGEX_INPUT_LENGTH) return false;
    const k = this.k;
    const latin1 = this.nfa.latin1;
    let trans = this.trans;
    let state = START;
    let misses = 0;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      const cls = c < 256 ? latin1[c]! : this.highClass(c);
      let next = trans[state * k + cls]! - 1;
      if (next < 0) {
        // Mostly misses: the DFA does not fit the cache for this input; building states would
        // only cost hashing and copying on top of the NFA step, so simulate the NFA instead.
        if (++misses > MISSES_BEFORE_NFA && misses * MISS_RATIO > i) return this.simulate(value, i, state);
        next = this.step(state, cls);
        trans = this.trans;
      }
      if (next === DEAD) return false;
      state = next;
    }
    const accepting = this.accepting[state]!;
    return accepting < 0 ? this.computeAccepting(state) : accepting === 1;
  }

  /** DFA states currently cached (for tests and benchmarks). */
  get cachedStates(): number {
    return this.count;
  }

  private highClass(c: number): number {
    const starts = this.nfa.highStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= c) lo = mid;
      else hi = mid - 1;
    }
    return this.nfa.highClasses[lo]!;
  }

  private reset(): void {
    this.ids.clear();
    this.count = 0;
    this.kernelUsed = 0;
    this.addState(this.startKernel, 0, 0); // DEAD: no NFA state left
    this.addState(this.startKernel, 1, AT_START); // START
  }

  private nextGeneration(): number {
    if (this.generation >= 0x3fffffff) {
      this.mark.fill(0);
      this.markNext.fill(0);
      this.generation = 0;
    }
    return ++this.generation;
  }

  /**
   * One NFA step: follows ε-moves from `src[from..to)` under context `ctx`, then every CHAR
   * state whose set holds class `cls`; writes the states reached into `dst`, returns how many.
   */
  private advance(
    src: Int32Array,
    from: number,
    to: number,
    ctx: number,
    cls: number,
    dst: Int32Array,
  ): number {
    const { op, out1, out2, hits, size } = this.nfa;
    const base = cls * size;
    const mark = this.mark;
    const markNext = this.markNext;
    const stack = this.stack;
    const gen = this.nextGeneration();
    let sp = 0;
    let n = 0;
    for (let i = from; i < to; i++) {
      const s = src[i]!;
      // Most kernel states are CHAR states: step them here, without the stack and unmarked (the
      // kernel has no duplicates; one reached again by an ε-move adds nothing new to dst).
      if (hits[base + s] === 1) {
        const t = out1[s]!;
        if (markNext[t] !== gen) {
          markNext[t] = gen;
          dst[n++] = t;
        }
      } else if (op[s] !== OP_CHAR && mark[s] !== gen) {
        mark[s] = gen;
        stack[sp++] = s;
      }
    }
    while (sp > 0) {
      const s = stack[--sp]!;
      const kind = op[s];
      if (kind === OP_CHAR) {
        if (hits[base + s] === 1) {
          const t = out1[s]!;
          if (markNext[t] !== gen) {
            markNext[t] = gen;
            dst[n++] = t;
          }
        }
      } else if (kind === OP_SPLIT) {
        const b = out2[s]!;
        if (mark[b] !== gen) {
          mark[b] = gen;
          stack[sp++] = b;
        }
        const a = out1[s]!;
        if (mark[a] !== gen) {
          mark[a] = gen;
          stack[sp++] = a;
        }
      } else if (kind === OP_ASSERT && holds(out2[s]!, ctx)) {
        const a = out1[s]!;
        if (mark[a] !== gen) {
          mark[a] = gen;
          stack[sp++] = a;
        }
      }
    }
    return n;
  }

  /** Whether ε-moves from `src[from..to)` under `ctx` reach MATCH. */
  private accepts(src: Int32Array, from: number, to: number, ctx: number): boolean {
    const { op, out1, out2 } = this.nfa;
    const mark = this.mark;
    const stack = this.stack;
    const gen = this.nextGeneration();
    let sp = 0;
    for (let i = from; i < to; i++) {
      const s = src[i]!;
      if (mark[s] !== gen) {
        mark[s] = gen;
        stack[sp++] = s;
      }
    }
    while (sp > 0) {
      const s = stack[--sp]!;
      const kind = op[s];
      if (kind === OP_MATCH) return true;
      let a = -1;
      let b = -1;
      if (kind === OP_SPLIT) {
        a = out1[s]!;
        b = out2[s]!;
      } else if (kind === OP_ASSERT && holds(out2[s]!, ctx)) a = out1[s]!;
      if (b >= 0 && mark[b] !== gen) {
        mark[b] = gen;
        stack[sp++] = b;
      }
      if (a >= 0 && mark[a] !== gen) {
        mark[a] = gen;
        stack[sp++] = a;
      }
    }
    return false;
  }

  private contextOf(state: number): number {
    return this.flags[state]! & (AT_START | PREV_WORD);
  }

  private computeAccepting(state: number): boolean {
    const from = this.kernelStart[state]!;
    const to = this.kernelStart[state + 1]!;
    const matched = this.accepts(this.kernels, from, to, this.contextOf(state) | AT_END);
    this.accepting[state] = matched ? 1 : 0;
    return matched;
  }

  /** Finishes a match from `state` at index `i` on the bit-parallel NFA (no DFA states built). */
  private simulate(value: string, i: number, state: number): boolean {
    this.fallbacks++;
    const from = this.kernelStart[state]!;
    const to = this.kernelStart[state + 1]!;
    return this.bitNfa.run(value, i, this.kernels, from, to, this.flags[state]! & (AT_START | PREV_WORD));
  }

  /** Matches on the bit-parallel NFA alone, without the DFA (for tests: both paths must agree). */
  testWithoutDfa(value: string): boolean {
    if (value.length > MAX_REGEX_INPUT_LENGTH) return false;
    return this.bitNfa.run(value, 0, this.startKernel, 0, 1, AT_START);
  }

  /** Computes (and caches) the transition of `state` on class `cls`. */
  private step(state: number, cls: number): number {
    const nfa = this.nfa;
    const word = nfa.usesWordBoundary && nfa.wordClass[cls] === 1;
    const ctx = this.contextOf(state) | (word ? NEXT_WORD : 0);
    const from = this.kernelStart[state]!;
    const to = this.kernelStart[state + 1]!;
    const n = this.advance(this.kernels, from, to, ctx, cls, this.next);
    let id: number;
    if (n === 0) id = DEAD;
    else {
      const flags = word ? PREV_WORD : 0;
      const key = this.keyOf(n, flags);
      const known = this.ids.get(key);
      if (known !== undefined) id = known;
      else {
        if (this.kernelUsed + n > this.kernels.length) this.growKernels(this.kernelUsed + n);
        if (this.count >= this.maxStates || this.kernelUsed + n > this.kernels.length) {
          // Full: start over with an empty cache (RE2 style); `state`'s number is stale now.
          this.flushes++;
          this.reset();
          state = -1;
        }
        id = this.addState(this.next, n, flags);
        this.ids.set(key, id);
      }
    }
    if (state >= 0) this.trans[state * this.k + cls] = id + 1;
    return id;
  }

  /** A canonical key of the set in `next[0..n)` plus flags: a bitset as a string. */
  private keyOf(n: number, flags: number): string {
    const bits = this.bits;
    const next = this.next;
    bits[0] = flags;
    for (let i = 0; i < n; i++) {
      const s = next[i]!;
      bits[(s >> 4) + 1]! |= 1 << (s & 15);
    }
    const key = String.fromCharCode.apply(null, bits as unknown as number[]);
    bits.fill(0);
    return key;
  }

  /** Stores `kernel[0..n)` as a new DFA state's kernel. */
  private addState(kernel: Int32Array, n: number, flags: number): number {
    const id = this.count;
    if (id >= this.accepting.length) this.grow();
    const k = this.k;
    this.trans.fill(0, id * k, id * k + k);
    this.accepting[id] = -1;
    this.flags[id] = flags;
    const at = this.kernelUsed;
    this.kernelStart[id] = at;
    this.kernels.set(kernel.subarray(0, n), at);
    this.kernelUsed = at + n;
    this.kernelStart[id + 1] = this.kernelUsed;
    this.count = id + 1;
    return id;
  }

  private grow(): void {
    const capacity = Math.min(this.maxStates, this.accepting.length * 2);
    const trans = new Int32Array(capacity * this.k);
    trans.set(this.trans);
    this.trans = trans;
    const accepting = new Int8Array(capacity);
    accepting.set(this.accepting);
    this.accepting = accepting;
    const flags = new Uint8Array(capacity);
    flags.set(this.flags);
    this.flags = flags;
    const kernelStart = new Int32Array(capacity + 1);
    kernelStart.set(this.kernelStart);
    this.kernelStart = kernelStart;
  }

  private growKernels(needed: number): void {
    let capacity = this.kernels.length;
    while (capacity < needed && capacity < MAX_KERNEL_ENTRIES) capacity *= 2;
    capacity = Math.min(capacity, MAX_KERNEL_ENTRIES);
    if (capacity === this.kernels.length) return;
    const kernels = new Int32Array(capacity);
    kernels.set(this.kernels.subarray(0, this.kernelUsed));
    this.kernels = kernels;
  }
}
