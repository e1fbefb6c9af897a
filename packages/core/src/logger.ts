export type LogFields = Record<string, unknown>;

/** Where meshless reports what it did. Plug in pino, winston or your own. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const noop = () => {};
export const noopLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** One line per record on stderr: `[meshless] warn rule rejected key=... path=... message=...`. */
export function consoleLogger(level: Level = 'warn', write: (line: string) => void = defaultWrite): Logger {
  const min = order[level];
  const make =
    (lvl: Exclude<Level, 'silent'>) =>
    (message: string, fields?: LogFields): void => {
      if (order[lvl] < min) return;
      write(`[meshless] ${lvl} ${message}${fields ? formatFields(fields) : ''}`);
    };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}

function defaultWrite(line: string): void {
  process.stderr.write(`${line}\n`);
}

function formatFields(fields: LogFields): string {
  let out = '';
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const s = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v);
    out += ` ${k}=${/[\s"=]/.test(s) ? JSON.stringify(s) : s}`;
  }
  return out;
}
