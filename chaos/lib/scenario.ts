// What a chaos scenario is and what it hands back: checks (an expectation a user relies on, what
// was measured, pass or not) and the raw figures for the JSON. Plain Node (type stripping).

export interface Check {
  expectation: string;
  measured: string;
  pass: boolean;
}

export interface ScenarioContext {
  /** Runs `fn` when the scenario ends, however it ends (newest first), each bounded in time. */
  defer(fn: () => Promise<unknown> | unknown): void;
  /** A progress line on stderr, prefixed with the scenario's name. */
  log(message: string): void;
}

export interface ScenarioOutcome {
  checks: Check[];
  /** Measured values, as they are (ms, counts), for chaos/results/<name>.json. */
  figures: Record<string, unknown>;
}

export interface ChaosScenario {
  name: string;
  /** The fault injected, in a few words (the table's second column). */
  fault: string;
  /** In the `--fast` subset (CI). */
  fast: boolean;
  /** Hard bound: the runner kills the scenario's whole process group after this long. */
  timeoutMs: number;
  run(ctx: ScenarioContext): Promise<ScenarioOutcome>;
}

/** What the runner reads back from a scenario's process. */
export interface ScenarioResult extends ScenarioOutcome {
  name: string;
  fault: string;
  durationMs: number;
  /** Set when the scenario threw or was killed at its time bound. */
  error?: string;
}

export function check(expectation: string, measured: string, pass: boolean): Check {
  return { expectation, measured, pass };
}

/** `value <= bound`, measured as "<value> <unit>". */
export function atMost(expectation: string, value: number, bound: number, unit = 'ms'): Check {
  return check(expectation, `${round(value)} ${unit}`, value <= bound);
}

export function round(v: number): number {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 10) / 10;
}
