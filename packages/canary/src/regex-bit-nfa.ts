import {
  ASSERT,
  ASSERT_END,
  ASSERT_NOT_WORD,
  ASSERT_START,
  ASSERT_WORD,
  CHAR,
  MATCH,
  type Nfa,
  SPLIT,
} from './regex-nfa.ts';

/** 32-bit words per bitset: 128 positions. */
const WORDS = 4;

// Context bits of a position, for assertions (shared with linear-regex.ts).
export const AT_START = 1;
export const AT_END = 2;
export const PREV_WORD = 4;
export const NEXT_WORD = 8;

/**
 * Bit-parallel simulation of an NFA (Glushkov style): the live set is a bitset over the CHAR
 * states ("positions") that consumed the last code unit, and one step is
 *   next = follow(live) & accepts(class)
 * where follow(live) is the union of precomputed follow sets, looked up 8 positions at a time
 * (Navarro and Raffinot's table method). A step costs (positions / 8) x 4 word operations,
 * whatever the pattern or the input: this is what the lazy DFA falls back to when its cache
 * thrashes. Tables: 4 KiB per 8 positions, so 64 KiB for 128 (four times that when the
 * pattern has \b or \B, whose follow sets depend on the word-ness around).
 */
export class BitParallelNfa {
  private readonly nfa: Nfa;
  /** Position index of each CHAR state (-1 for other states), and the CHAR state of each position. */
  private readonly positionOf: Int32Array;
  private readonly stateOf: Int32Array;
  readonly positions: number;
  /** 32-bit words per bitset. */
  private readonly words: number;
  private readonly chunks: number;
  /** Contexts a mid-value step can be in: 1, or 4 (previous / next is a word character). */
  private readonly contexts: number;
  /** follow tables `[context][chunk][byte]` of `words` each. */
  private readonly tables: Int32Array;
  /** `[class]`: the positions whose set holds the class. */
  private readonly byClass: Int32Array;
  /** `[previous is word]`: the positions from which the value may end. */
  private readonly finals: Int32Array;
  private readonly live: Int32Array;
  private readonly mark: Int32Array;
  private readonly stack: Int32Array;
  private generation = 0;

  constructor(nfa: Nfa) {
    this.nfa = nfa;
    const positionOf = new Int32Array(nfa.size).fill(-1);
    const states: number[] = [];
    for (let s = 0; s < nfa.size; s++) if (nfa.op[s] === CHAR) positionOf[s] = states.push(s) - 1;
    this.positionOf = positionOf;
    this.stateOf = Int32Array.from(states);
    this.positions = states.length;
    // Four words: the state cap keeps positions under 128, and a fixed width lets the step
    // keep its bitsets in locals.
    if (this.positions > 128) throw new Error(`bit-parallel NFA: ${this.positions} positions, over 128`);
    this.words = WORDS;
    this.chunks = (this.positions + 7) >> 3;
    this.contexts = nfa.usesWordBoundary ? 4 : 1;
    this.live = new Int32Array(this.words);
    this.mark = new Int32Array(nfa.size);
    this.stack = new Int32Array(nfa.size);
    const w = this.words;
    this.byClass = new Int32Array(nfa.classes * w);
    for (let cls = 0; cls < nfa.classes; cls++) {
      for (let p = 0; p < this.positions; p++) {
        if (nfa.hits[cls * nfa.size + this.stateOf[p]!] === 1)
          this.byClass[cls * w + (p >> 5)]! |= 1 << (p & 31);
      }
    }
    this.finals = new Int32Array(2 * w);
    for (let prev = 0; prev < 2; prev++) {
      for (let p = 0; p < this.positions; p++) {
        const ctx = AT_END | (prev ? PREV_WORD : 0);
        if (this.closure(nfa.out1[this.stateOf[p]!]!, ctx, undefined))
          this.finals[prev * w + (p >> 5)]! |= 1 << (p & 31);
      }
    }
    this.tables = this.buildTables();
  }

  /**
   * Matches `value` from index `i` on, given the NFA states `src[from..to)` reached before it
   * (a DFA state's kernel) and the context bits at `i` (AT_START, PREV_WORD).
   */
  run(value: string, i: number, src: Int32Array, from: number, to: number, flags: number): boolean {
    const n = value.length;
    const w = this.words;
    const live = this.live;
    if (i === n) return this.closureOf(src, from, to, flags | AT_END, -1);
    // First step from the kernel by plain ε-closure; the rest on bitsets.
    let cls = this.classAt(value, i);
    let word = this.isWord(cls);
    live.fill(0);
    this.closureOf(src, from, to, flags | (word ? NEXT_WORD : 0), cls);
    if (isEmpty(live, w)) return false;
    const tables = this.tables;
    const chunks = this.chunks;
    const byClass = this.byClass;
    let l0 = live[0]!;
    let l1 = live[1]!;
    let l2 = live[2]!;
    let l3 = live[3]!;
    for (i++; i < n; i++) {
      const prevWord = word;
      cls = this.classAt(value, i);
      word = this.isWord(cls);
      const context = this.contexts === 1 ? 0 : (prevWord ? 2 : 0) | (word ? 1 : 0);
      let base = context * chunks * 256 * WORDS;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let j = 0; j < chunks; j++, base += 256 * WORDS) {
        const bits = j < 4 ? l0 : j < 8 ? l1 : j < 12 ? l2 : l3;
        const byte = (bits >>> ((j & 3) << 3)) & 255;
        if (byte === 0) continue;
        const at = base + byte * WORDS;
        a0 |= tables[at]!;
        a1 |= tables[at + 1]!;
        a2 |= tables[at + 2]!;
        a3 |= tables[at + 3]!;
      }
      const m = cls * WORDS;
      l0 = a0 & byClass[m]!;
      l1 = a1 & byClass[m + 1]!;
      l2 = a2 & byClass[m + 2]!;
      l3 = a3 & byClass[m + 3]!;
      if ((l0 | l1 | l2 | l3) === 0) return false;
    }
    return this.ends(l0, l1, l2, l3, word);
  }

  /** Whether the value may end after the live positions (apart from run(): a loop optimized on the
   * stack mid-value would lack feedback for this tail and deoptimize on reaching it). */
  private ends(l0: number, l1: number, l2: number, l3: number, word: boolean): boolean {
    const f = word ? WORDS : 0;
    const finals = this.finals;
    return ((l0 & finals[f]!) | (l1 & finals[f + 1]!) | (l2 & finals[f + 2]!) | (l3 & finals[f + 3]!)) !== 0;
  }

  private classAt(value: string, i: number): number {
    const c = value.charCodeAt(i);
    if (c < 256) return this.nfa.latin1[c]!;
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

  private isWord(cls: number): boolean {
    return this.nfa.usesWordBoundary && this.nfa.wordClass[cls] === 1;
  }

  /**
   * ε-closure of `src[from..to)` under `ctx`. With cls >= 0, sets in `live` the positions
   * reached whose set holds cls; returns whether MATCH was reached.
   */
  private closureOf(src: Int32Array, from: number, to: number, ctx: number, cls: number): boolean {
    let matched = false;
    const gen = this.nextGeneration();
    for (let i = from; i < to; i++) if (this.visit(src[i]!, ctx, gen, cls, this.live)) matched = true;
    return matched;
  }

  /** ε-closure of one state; collects positions into `into` (all of them when cls < 0 and into is set). */
  private closure(state: number, ctx: number, into: Int32Array | undefined): boolean {
    return this.visit(state, ctx, this.nextGeneration(), -1, into);
  }

  private visit(state: number, ctx: number, gen: number, cls: number, into: Int32Array | undefined): boolean {
    const { op, out1, out2, hits, size } = this.nfa;
    const mark = this.mark;
    const stack = this.stack;
    if (mark[state] === gen) return false;
    mark[state] = gen;
    let sp = 0;
    stack[sp++] = state;
    let matched = false;
    while (sp > 0) {
      const s = stack[--sp]!;
      const kind = op[s];
      let a = -1;
      let b = -1;
      if (kind === CHAR) {
        if (into !== undefined && (cls < 0 || hits[cls * size + s] === 1)) {
          const p = this.positionOf[s]!;
          into[p >> 5]! |= 1 << (p & 31);
        }
      } else if (kind === MATCH) matched = true;
      else if (kind === SPLIT) {
        a = out1[s]!;
        b = out2[s]!;
      } else if (kind === ASSERT && holds(out2[s]!, ctx)) a = out1[s]!;
      if (b >= 0 && mark[b] !== gen) {
        mark[b] = gen;
        stack[sp++] = b;
      }
      if (a >= 0 && mark[a] !== gen) {
        mark[a] = gen;
        stack[sp++] = a;
      }
    }
    return matched;
  }

  private nextGeneration(): number {
    if (this.generation >= 0x3fffffff) {
      this.mark.fill(0);
      this.generation = 0;
    }
    return ++this.generation;
  }

  /** follow[context][chunk][byte]: the union of the follow sets of the positions in the byte. */
  private buildTables(): Int32Array {
    const w = this.words;
    const chunks = this.chunks;
    const tables = new Int32Array(this.contexts * chunks * 256 * w);
    const follow = new Int32Array(this.positions * w);
    for (let context = 0; context < this.contexts; context++) {
      const ctx = this.contexts === 1 ? 0 : (context & 2 ? PREV_WORD : 0) | (context & 1 ? NEXT_WORD : 0);
      follow.fill(0);
      for (let p = 0; p < this.positions; p++) {
        this.closure(this.nfa.out1[this.stateOf[p]!]!, ctx, follow.subarray(p * w, p * w + w));
      }
      for (let j = 0; j < chunks; j++) {
        const base = (context * chunks + j) * 256;
        for (let byte = 1; byte < 256; byte++) {
          const low = byte & -byte;
          const p = j * 8 + 31 - Math.clz32(low);
          const rest = byte ^ low;
          const at = (base + byte) * w;
          for (let k = 0; k < w; k++) {
            const fromRest = tables[(base + rest) * w + k]!;
            tables[at + k] = p < this.positions ? fromRest | follow[p * w + k]! : fromRest;
          }
        }
      }
    }
    return tables;
  }
}

function isEmpty(bits: Int32Array, words: number): boolean {
  for (let k = 0; k < words; k++) if (bits[k] !== 0) return false;
  return true;
}

export function holds(assertion: number, ctx: number): boolean {
  switch (assertion) {
    case ASSERT_START:
      return (ctx & AT_START) !== 0;
    case ASSERT_END:
      return (ctx & AT_END) !== 0;
    case ASSERT_WORD:
      return ((ctx & PREV_WORD) !== 0) !== ((ctx & NEXT_WORD) !== 0);
    case ASSERT_NOT_WORD:
      return ((ctx & PREV_WORD) !== 0) === ((ctx & NEXT_WORD) !== 0);
    default:
      return false;
  }
}
