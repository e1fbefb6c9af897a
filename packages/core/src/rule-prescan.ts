import { RuleError } from './errors.ts';

/**
 * Deepest nesting of collections (maps and lists) a rule document may have. The schemas need
 * about 6 (`routes[0].match.headers.x-user.exact`); the limit leaves room for anchors and style.
 */
export const MAX_RULE_DEPTH = 64;
/**
 * Most entries a rule document may hold: each map entry, list item and collection counts one, and
 * in YAML each non-blank line too (comments and block scalar lines included). It bounds the parse
 * time of anything the pre-scan lets through to a few milliseconds (bench/rule-parse.bench.ts). A
 * routes document with 200 routes and 20 subsets is about 4 500.
 */
export const MAX_RULE_NODES = 5_000;
/** The same for JSON, which parses about ten times faster than YAML. */
export const MAX_JSON_NODES = 10_000;
/** Most aliases (`*name`) a YAML rule document may contain. */
export const MAX_RULE_ALIASES = 100;

const NL = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const HASH = 35;
const DQUOTE = 34;
const SQUOTE = 39;
const BACKSLASH = 92;
const COLON = 58;
const COMMA = 44;
const DASH = 45;
const QUESTION = 63;
const LBRACKET = 91;
const RBRACKET = 93;
const LBRACE = 123;
const RBRACE = 125;
const STAR = 42;
const AMP = 38;
const BANG = 33;
const PIPE = 124;
const GT = 62;
const DOT = 46;
const PERCENT = 37;

const SEQ = 0;
const MAP = 1;

/**
 * Checks a document's shape before any parser sees it, in one linear pass with no regex: nesting
 * depth (over-approximated: it may count a level the parser would not, never the reverse),
 * number of values and, for YAML, aliases. Parsers take seconds on a 400 KB `[[[[...` and
 * yaml's duplicate-key check is quadratic in a map's size; a document over a limit is refused
 * here in milliseconds. Throws RuleError naming the line.
 */
export function prescanRuleDocument(text: string, format: 'json' | 'yaml', key?: string): void {
  if (format === 'json') prescanJson(text, key);
  else new YamlPrescan(text, key).run();
}

function tooDeep(line: number, key: string | undefined): RuleError {
  return new RuleError(`line ${line}: nesting deeper than ${MAX_RULE_DEPTH} levels`, { key });
}

function tooMany(line: number, key: string | undefined, limit = MAX_RULE_NODES): RuleError {
  return new RuleError(
    `line ${line}: more than ${limit} entries (lines, map entries, list items and collections)`,
    { key },
  );
}

function prescanJson(text: string, key: string | undefined): void {
  const n = text.length;
  let depth = 0;
  let nodes = 0;
  let line = 1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === DQUOTE) {
      // Skip the string; a raw newline in it is invalid JSON, but keep the line count right.
      for (i++; i < n; i++) {
        const s = text.charCodeAt(i);
        if (s === BACKSLASH) i++;
        else if (s === DQUOTE) break;
        else if (s === NL) line++;
      }
    } else if (c === LBRACKET || c === LBRACE) {
      if (++depth > MAX_RULE_DEPTH) throw tooDeep(line, key);
      if (++nodes > MAX_JSON_NODES) throw tooMany(line, key, MAX_JSON_NODES);
    } else if (c === RBRACKET || c === RBRACE) depth--;
    else if (c === COMMA || c === COLON) {
      if (++nodes > MAX_JSON_NODES) throw tooMany(line, key, MAX_JSON_NODES);
    } else if (c === NL) line++;
  }
}

const isBlank = (c: number) => c === SPACE || c === TAB || c === CR;

/**
 * A YAML tokenizer just precise enough to bound nesting. Block structure: a stack of open
 * collections by column (a line's collection is the open one at its indentation, or a new one
 * nested in the closest less indented one; a list may sit at its key's column). Within a line,
 * `- `, `? ` and `: ` indicators and `key:` open levels; flow `[`/`{` add levels until closed.
 * Skipped as text: comments, quoted scalars (which must end on their line: the parser may end a
 * multi-line one early, and text it then reads as structure must not be skipped here), block
 * scalars (`|`, `>`) while their lines are indented deeper than the collection holding them.
 */
class YamlPrescan {
  private readonly text: string;
  private readonly key: string | undefined;
  private line = 0;
  private lineStart = 0;
  private nodes = 0;
  private aliases = 0;
  // Open block collections, innermost last.
  private readonly cols: number[] = [];
  private readonly depths: number[] = [];
  private readonly kinds: number[] = [];
  /** Depth of the innermost collection known on the current line. */
  private ctx = 0;
  /** Column of the innermost block collection opened on the current line, or -1. */
  private lastCol = -1;
  // Flow state, which spans lines.
  private flow = 0;
  private flowBase = 0;
  private tokenStart = true;
  private jsonLike = false;
  // Block scalar state: content lines are those indented at least `scalarIndent` (-1: the first
  // non-blank line deeper than `scalarParent` sets it).
  private inScalar = false;
  private scalarParent = -1;
  private scalarIndent = -1;

  constructor(text: string, key: string | undefined) {
    this.text = text;
    this.key = key;
  }

  run(): void {
    const text = this.text;
    const n = text.length;
    let i = 0;
    while (i < n) {
      this.line++;
      let eol = text.indexOf('\n', i);
      if (eol < 0) eol = n;
      this.lineStart = i;
      this.scanLine(i, eol);
      i = eol + 1;
    }
  }

  private scanLine(start: number, eol: number): void {
    const text = this.text;
    let p = start;
    while (p < eol && text.charCodeAt(p) === SPACE) p++;
    const ind = p - start;
    let rest = p;
    while (rest < eol && isBlank(text.charCodeAt(rest))) rest++;
    const blank = rest >= eol;
    if (ind === 0 && this.isDocumentMarker(p, eol)) {
      // `---` / `...`: a new document; nothing stays open.
      this.inScalar = false;
      this.flow = 0;
      this.cols.length = this.depths.length = this.kinds.length = 0;
      this.ctx = 0;
      this.lastCol = -1;
      if (text.charCodeAt(p) === DOT) return;
      this.blockTokens(p + 3, eol);
      return;
    }
    if (this.inScalar) {
      if (blank) return;
      // Block scalar lines count too: the parser reads them line by line.
      if (this.scalarIndent < 0) {
        if (ind > this.scalarParent) {
          this.scalarIndent = ind;
          this.count();
          return;
        }
      } else if (ind >= this.scalarIndent) {
        this.count();
        return;
      }
      this.inScalar = false;
    }
    if (!blank) this.count();
    if (this.flow > 0) {
      this.flowTokens(start, eol);
      if (this.flow === 0) this.blockTokens(this.afterFlow, eol);
      return;
    }
    if (blank || text.charCodeAt(p) === HASH) return;
    if (ind === 0 && text.charCodeAt(p) === PERCENT) return; // %YAML / %TAG directive
    while (this.cols.length > 0 && this.cols[this.cols.length - 1]! > ind) this.pop();
    this.ctx = this.cols.length > 0 ? this.depths[this.depths.length - 1]! : 0;
    this.lastCol = -1;
    this.blockTokens(p, eol);
  }

  private isDocumentMarker(p: number, eol: number): boolean {
    const text = this.text;
    const c = text.charCodeAt(p);
    if (c !== DASH && c !== DOT) return false;
    if (text.charCodeAt(p + 1) !== c || text.charCodeAt(p + 2) !== c) return false;
    return p + 3 >= eol || isBlank(text.charCodeAt(p + 3));
  }

  private pop(): void {
    this.cols.pop();
    this.depths.pop();
    this.kinds.pop();
  }

  /** A block collection entry at `col`: a sibling in the open collection there, or a new level. */
  private open(col: number, kind: number): void {
    const cols = this.cols;
    while (cols.length > 0 && cols[cols.length - 1]! > col) this.pop();
    let depth: number;
    for (;;) {
      const top = cols.length - 1;
      if (top >= 0 && cols[top] === col) {
        const topKind = this.kinds[top]!;
        if (topKind === kind) {
          depth = this.depths[top]!;
          break;
        }
        if (topKind === SEQ) {
          // A key after a list at the same column: the list (a key's value) has ended.
          this.pop();
          continue;
        }
        // A list at its key's column is that key's value.
        depth = this.depths[top]! + 1;
      } else depth = (top >= 0 ? this.depths[top]! : 0) + 1;
      cols.push(col);
      this.depths.push(depth);
      this.kinds.push(kind);
      break;
    }
    if (depth > MAX_RULE_DEPTH) throw tooDeep(this.line, this.key);
    this.count();
    this.ctx = depth;
    this.lastCol = col;
  }

  private count(): void {
    if (++this.nodes > MAX_RULE_NODES) throw tooMany(this.line, this.key);
  }

  /** Tokens of a line in block context, from `p` to `eol`. */
  private blockTokens(p: number, eol: number): void {
    const text = this.text;
    while (p < eol) {
      const c = text.charCodeAt(p);
      if (isBlank(c)) {
        p++;
        continue;
      }
      if (c === HASH) return;
      const next = p + 1 < eol ? text.charCodeAt(p + 1) : SPACE;
      if ((c === DASH || c === QUESTION || c === COLON) && isBlank(next)) {
        this.open(p - this.lineStart, c === DASH ? SEQ : MAP);
        p++;
        continue;
      }
      if (c === AMP || c === BANG) {
        while (p < eol && !isBlank(text.charCodeAt(p))) p++;
        continue;
      }
      if (c === PIPE || c === GT) {
        this.startBlockScalar(p + 1, eol);
        return;
      }
      const col = p - this.lineStart;
      if (c === LBRACKET || c === LBRACE) {
        // +1: the collection may turn out to be the key of a map opened after it.
        this.flowBase = this.ctx + 1;
        this.tokenStart = true;
        this.jsonLike = false;
        this.flowTokens(p, eol);
        if (this.flow > 0) return;
        p = this.afterFlow;
      } else if (c === DQUOTE || c === SQUOTE) {
        p = this.quoted(p, eol);
      } else if (c === STAR) {
        this.alias();
        while (p < eol && !isBlank(text.charCodeAt(p))) p++;
      } else {
        // A plain scalar: ends at `: ` (it was a key), ` #` (a comment) or the line's end.
        for (;;) {
          if (p >= eol) return;
          const s = text.charCodeAt(p);
          if (s === COLON && (p + 1 >= eol || isBlank(text.charCodeAt(p + 1)))) break;
          if (s === HASH && isBlank(text.charCodeAt(p - 1))) return;
          p++;
        }
      }
      // After a scalar or flow collection: `:` makes it a key.
      while (p < eol && isBlank(text.charCodeAt(p))) p++;
      if (p < eol && text.charCodeAt(p) === COLON && (p + 1 >= eol || isBlank(text.charCodeAt(p + 1)))) {
        this.open(col, MAP);
        p++;
      }
    }
  }

  private startBlockScalar(p: number, eol: number): void {
    const text = this.text;
    let explicit = 0;
    for (; p < eol && !isBlank(text.charCodeAt(p)); p++) {
      const d = text.charCodeAt(p) - 48;
      if (d >= 1 && d <= 9) explicit = d;
    }
    this.inScalar = true;
    // The collection holding the scalar: opened on this line, else the one the line is in.
    this.scalarParent =
      this.lastCol >= 0 ? this.lastCol : this.cols.length > 0 ? this.cols[this.cols.length - 1]! : -1;
    this.scalarIndent = explicit > 0 ? Math.max(0, this.scalarParent) + explicit : -1;
  }

  private alias(): void {
    if (++this.aliases > MAX_RULE_ALIASES) {
      throw new RuleError(`line ${this.line}: more than ${MAX_RULE_ALIASES} aliases`, { key: this.key });
    }
  }

  /** Where block tokens resume after a flow collection closed. */
  private afterFlow = 0;

  /** Flow context from `p`; sets `afterFlow` when the outermost collection closes on this line. */
  private flowTokens(p: number, eol: number): void {
    const text = this.text;
    let prevBlank = true;
    while (p < eol) {
      const c = text.charCodeAt(p);
      if (isBlank(c)) {
        prevBlank = true;
        p++;
        continue;
      }
      if (c === HASH && prevBlank) return;
      prevBlank = false;
      if (c === LBRACKET || c === LBRACE) {
        if (++this.flow + this.flowBase > MAX_RULE_DEPTH) throw tooDeep(this.line, this.key);
        this.count();
        this.tokenStart = true;
        this.jsonLike = false;
      } else if (c === RBRACKET || c === RBRACE) {
        this.tokenStart = false;
        this.jsonLike = true;
        if (--this.flow <= 0) {
          this.flow = 0;
          this.afterFlow = p + 1;
          return;
        }
      } else if (c === COMMA) {
        this.count();
        this.tokenStart = true;
        this.jsonLike = false;
      } else if ((c === DQUOTE || c === SQUOTE) && this.tokenStart) {
        p = this.quoted(p, eol);
        this.tokenStart = false;
        this.jsonLike = true;
        continue;
      } else if (c === COLON) {
        // A value indicator after a JSON-like key (`"a":'b'`) or before a blank; else plain text.
        const next = p + 1 < eol ? text.charCodeAt(p + 1) : SPACE;
        this.tokenStart = this.jsonLike || isBlank(next);
        this.jsonLike = false;
      } else if ((c === AMP || c === BANG) && this.tokenStart) {
        // A property: up to a blank or a flow indicator; the value follows.
        p++;
        while (p < eol) {
          const s = text.charCodeAt(p);
          if (isBlank(s) || s === COMMA || s === LBRACKET || s === RBRACKET || s === LBRACE || s === RBRACE)
            break;
          p++;
        }
        continue;
      } else if (c === STAR && this.tokenStart) {
        this.alias();
        this.tokenStart = false;
      } else if (c === QUESTION && (p + 1 >= eol || isBlank(text.charCodeAt(p + 1)))) {
        this.tokenStart = true;
      } else {
        this.tokenStart = false;
        this.jsonLike = false;
      }
      p++;
    }
  }

  /** Skips a quoted scalar starting at `p`; returns the index after its closing quote. */
  private quoted(p: number, eol: number): number {
    const text = this.text;
    const q = text.charCodeAt(p);
    for (let i = p + 1; i < eol; i++) {
      const c = text.charCodeAt(i);
      if (q === DQUOTE && c === BACKSLASH) i++;
      else if (c === q) {
        if (q === SQUOTE && i + 1 < eol && text.charCodeAt(i + 1) === SQUOTE) i++;
        else return i + 1;
      }
    }
    throw new RuleError(
      `line ${this.line}: a quoted string must end on the line it starts (use a block scalar, | or >, for long text)`,
      { key: this.key },
    );
  }
}
