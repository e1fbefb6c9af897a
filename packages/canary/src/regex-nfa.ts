import {
  type AssertionKind,
  type CodeRanges,
  contains,
  MAX_CODE_UNIT,
  type RegexNode,
  WORD,
} from './regex-parse.ts';

/**
 * A Thompson NFA in typed arrays, plus the alphabet split into equivalence classes (code units
 * no set in the pattern tells apart share a class, so the DFA's tables are per class, not per
 * code unit). Built once per rule change.
 */
export interface Nfa {
  /** Number of states (nodes); capped by {@link MAX_REGEX_STATES}. */
  readonly size: number;
  readonly start: number;
  /** Per state: CHAR, SPLIT, ASSERT or MATCH. */
  readonly op: Uint8Array;
  /** CHAR, ASSERT: the next state; SPLIT: the first branch. */
  readonly out1: Int32Array;
  /** SPLIT: the second branch; CHAR: the index of its set; ASSERT: the assertion. */
  readonly out2: Int32Array;
  /** Number of code-unit classes. */
  readonly classes: number;
  /** Class of each code unit below 256 (header values are Latin-1). */
  readonly latin1: Uint16Array;
  /** Code units from 256 up: sorted starts of runs of one class, and the class of each run. */
  readonly highStarts: Int32Array;
  readonly highClasses: Uint16Array;
  /** `hits[class * size + state]`: 1 when the state is a CHAR state whose set holds the class. */
  readonly hits: Uint8Array;
  /** Per class: 1 for word characters (\w); only maintained when the pattern has \b or \B. */
  readonly wordClass: Uint8Array;
  readonly usesWordBoundary: boolean;
}

export const CHAR = 0;
export const SPLIT = 1;
export const ASSERT = 2;
export const MATCH = 3;

export const ASSERT_START = 0;
export const ASSERT_END = 1;
export const ASSERT_WORD = 2;
export const ASSERT_NOT_WORD = 3;

/**
 * Most NFA states a route regex may expand to. A lazy-DFA step on a cache miss costs O(states);
 * this cap and MAX_REGEX_INPUT_LENGTH bound a match's worst case (docs/decisions.md).
 */
export const MAX_REGEX_STATES = 128;

/** The number of NFA states `node` compiles to (counted repetition multiplies); may exceed the cap. */
export function stateCount(node: RegexNode): number {
  return size(node) + 1; // + MATCH
}

function size(node: RegexNode): number {
  switch (node.type) {
    case 'set':
    case 'assert':
      return 1;
    case 'concat':
      return node.items.reduce((n, item) => n + size(item), 0);
    case 'alt':
      return node.items.reduce((n, item) => n + size(item), node.items.length - 1);
    case 'repeat': {
      const item = size(node.item);
      if (node.max === Infinity) return node.min === 0 ? item + 1 : node.min * item + 1;
      return node.min * item + (node.max - node.min) * (item + 1);
    }
  }
}

const ASSERTIONS: Record<AssertionKind, number> = {
  start: ASSERT_START,
  end: ASSERT_END,
  word: ASSERT_WORD,
  notWord: ASSERT_NOT_WORD,
};

/** Compiles a parsed regex; the caller has checked stateCount(node) against the cap. */
export function buildNfa(node: RegexNode): Nfa {
  const total = stateCount(node);
  const op = new Uint8Array(total);
  const out1 = new Int32Array(total);
  const out2 = new Int32Array(total);
  const sets: CodeRanges[] = [];
  const setIndex = new Map<string, number>();
  let usesWordBoundary = false;
  let n = 0;
  const add = (kind: number, a: number, b: number) => {
    op[n] = kind;
    out1[n] = a;
    out2[n] = b;
    return n++;
  };
  // Built back to front: each piece is compiled knowing the state that follows it.
  const emit = (node: RegexNode, next: number): number => {
    switch (node.type) {
      case 'set': {
        const key = node.ranges.join(',');
        let index = setIndex.get(key);
        if (index === undefined) {
          index = sets.push(node.ranges) - 1;
          setIndex.set(key, index);
        }
        return add(CHAR, next, index);
      }
      case 'assert':
        if (node.kind === 'word' || node.kind === 'notWord') usesWordBoundary = true;
        return add(ASSERT, next, ASSERTIONS[node.kind]);
      case 'concat':
        for (let i = node.items.length - 1; i >= 0; i--) next = emit(node.items[i]!, next);
        return next;
      case 'alt': {
        let entry = emit(node.items[node.items.length - 1]!, next);
        for (let i = node.items.length - 2; i >= 0; i--)
          entry = add(SPLIT, emit(node.items[i]!, next), entry);
        return entry;
      }
      case 'repeat': {
        const { item, min, max } = node;
        let tail = next;
        if (max === Infinity) {
          const loop = add(SPLIT, -1, next);
          out1[loop] = emit(item, loop);
          if (min === 0) return loop;
          tail = out1[loop]!;
          for (let i = 1; i < min; i++) tail = emit(item, tail);
          return tail;
        }
        // x{n,m}: n copies, then m - n nested optional ones: x(x(x)?)? for {0,3}.
        for (let i = min; i < max; i++) tail = add(SPLIT, emit(item, tail), next);
        for (let i = 0; i < min; i++) tail = emit(item, tail);
        return tail;
      }
    }
  };
  const match = add(MATCH, -1, -1);
  const start = emit(node, match);
  if (n !== total) throw new Error(`regex NFA size ${n}, expected ${total}`);
  const { member, ...classes } = alphabet(sets, usesWordBoundary);
  // One read per state and step in the hot loop (instead of set lookup, multiply, member read).
  const hits = new Uint8Array(classes.classes * total);
  for (let cls = 0; cls < classes.classes; cls++) {
    for (let s = 0; s < total; s++) {
      if (op[s] === CHAR) hits[cls * total + s] = member[out2[s]! * classes.classes + cls]!;
    }
  }
  return { size: total, start, op, out1, out2, ...classes, hits, usesWordBoundary };
}

/** Splits the code units into classes by membership in every set (and in \w when it matters). */
function alphabet(sets: readonly CodeRanges[], usesWordBoundary: boolean) {
  const all = usesWordBoundary ? [...sets, WORD] : sets;
  const cuts = new Set<number>([0]);
  for (const ranges of all) {
    for (let i = 0; i < ranges.length; i += 2) {
      cuts.add(ranges[i]!);
      if (ranges[i + 1]! < MAX_CODE_UNIT) cuts.add(ranges[i + 1]! + 1);
    }
  }
  const starts = [...cuts].sort((a, b) => a - b);
  // Intervals with the same membership everywhere are one class.
  const bySignature = new Map<string, number>();
  const representative: number[] = [];
  const intervalClass = starts.map((code) => {
    const signature = all.map((ranges) => (contains(ranges, code) ? '1' : '0')).join('');
    let cls = bySignature.get(signature);
    if (cls === undefined) {
      cls = representative.push(code) - 1;
      bySignature.set(signature, cls);
    }
    return cls;
  });
  const classes = representative.length;
  const classOf = (code: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= code) lo = mid;
      else hi = mid - 1;
    }
    return intervalClass[lo]!;
  };
  const latin1 = new Uint16Array(256);
  for (let c = 0; c < 256; c++) latin1[c] = classOf(c);
  const highStarts: number[] = [256];
  const highClasses: number[] = [classOf(256)];
  for (let i = 0; i < starts.length; i++) {
    if (starts[i]! <= 256 || intervalClass[i] === highClasses[highClasses.length - 1]) continue;
    highStarts.push(starts[i]!);
    highClasses.push(intervalClass[i]!);
  }
  const member = new Uint8Array(sets.length * classes);
  sets.forEach((ranges, s) => {
    representative.forEach((code, cls) => {
      member[s * classes + cls] = contains(ranges, code) ? 1 : 0;
    });
  });
  const wordClass = new Uint8Array(classes);
  if (usesWordBoundary) {
    for (let cls = 0; cls < classes; cls++) wordClass[cls] = contains(WORD, representative[cls]!) ? 1 : 0;
  }
  return {
    classes,
    latin1,
    highStarts: Int32Array.from(highStarts),
    highClasses: Uint16Array.from(highClasses),
    member,
    wordClass,
  };
}
