import { ConfigError, type Logger, nearest, parseOrThrow } from '@meshless/core';
import { type MeshOptions, type MeshServiceOptions, meshOptionsSchema } from './mesh-options.ts';

/** An environment: variable name -> value (process.env, or a plain object in tests). */
export type MeshEnv = Readonly<Record<string, string | undefined>>;

/**
 * createMesh's argument: MeshOptions whose `service` may leave out what the environment gives
 * (`name`, `port` from MESHLESS_SERVICE_NAME/PORT); the schema checks the merged result.
 */
export type MeshOptionsInput = Omit<MeshOptions, 'service'> & { service?: Partial<MeshServiceOptions> };

/** A value over this is an error: an environment is operator input, but a bounded one. */
export const MAX_ENV_VALUE_LENGTH = 4096;

interface EnvVariable {
  readonly name: string;
  /** Option path it sets: `['service', 'port']`. */
  readonly path: readonly [string] | readonly [string, string];
  /** Parses the trimmed, non-empty value or throws a message (the variable is put in front). */
  readonly parse: (value: string) => unknown;
}

const text = (value: string): string => value;
const quoted = (value: string): string => JSON.stringify(value.slice(0, 80));

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = /^\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
    if (!(n >= min && n <= max)) throw new Error(`expected an integer ${min}-${max}, got ${quoted(value)}`);
    return n;
  };
}

function boolean(value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new Error(`expected true or false (1/0, yes/no, on/off), got ${quoted(value)}`);
}

/** `a, b,,c` -> `['a', 'b', 'c']`: blanks between commas are dropped. */
function list(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

const META_KEY = /^[A-Za-z0-9_-]{1,64}$/;
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** `team=search,tier=gold` -> a null-prototype record (no key can reach Object.prototype). */
function meta(value: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const pair of list(value)) {
    const at = pair.indexOf('=');
    const key = at > 0 ? pair.slice(0, at).trim() : '';
    if (!META_KEY.test(key) || PROTOTYPE_KEYS.has(key))
      throw new Error(`expected key=value pairs (keys of letters, digits, _ and -), got ${quoted(pair)}`);
    out[key] = pair.slice(at + 1).trim();
  }
  return out;
}

/** `false` turns the disk cache off; anything else is a folder. */
const cacheDir = (value: string): string | false => (value.toLowerCase() === 'false' ? false : value);

/** Every MESHLESS_* variable the mesh reads (docs/operators-guide.md lists the same). */
export const ENV_VARIABLES: readonly EnvVariable[] = [
  { name: 'MESHLESS_SERVICE_NAME', path: ['service', 'name'], parse: text },
  { name: 'MESHLESS_SERVICE_PORT', path: ['service', 'port'], parse: integer(1, 65535) },
  { name: 'MESHLESS_SERVICE_ADDRESS', path: ['service', 'address'], parse: text },
  { name: 'MESHLESS_SERVICE_ID', path: ['service', 'id'], parse: text },
  { name: 'MESHLESS_SERVICE_VERSION', path: ['service', 'version'], parse: text },
  { name: 'MESHLESS_SERVICE_ZONE', path: ['service', 'zone'], parse: text },
  { name: 'MESHLESS_SERVICE_REGION', path: ['service', 'region'], parse: text },
  { name: 'MESHLESS_SERVICE_WEIGHT', path: ['service', 'weight'], parse: integer(1, 65535) },
  { name: 'MESHLESS_SERVICE_TAGS', path: ['service', 'tags'], parse: list },
  { name: 'MESHLESS_SERVICE_META', path: ['service', 'meta'], parse: meta },
  { name: 'MESHLESS_SERVICE_REGISTER', path: ['service', 'register'], parse: boolean },
  { name: 'MESHLESS_PREFIX', path: ['prefix'], parse: text },
  { name: 'MESHLESS_DATACENTERS', path: ['datacenters'], parse: list },
  { name: 'MESHLESS_RULES_DATACENTER', path: ['rulesDatacenter'], parse: text },
  { name: 'MESHLESS_CACHE_DIR', path: ['cacheDir'], parse: cacheDir },
  { name: 'MESHLESS_PROPAGATE_HEADERS', path: ['propagate', 'headers'], parse: list },
  { name: 'MESHLESS_LOG_LEVEL', path: ['logger'], parse: (value) => value.toLowerCase() },
  { name: 'MESHLESS_HANDLE_SIGNALS', path: ['handleSignals'], parse: boolean },
  { name: 'MESHLESS_ZERO_TRUST', path: ['zeroTrust'], parse: boolean },
];

const KNOWN = new Set(ENV_VARIABLES.map((v) => v.name));
/** MESHLESS_* names the repo's own scripts read: not the mesh's, not stray. */
const NOT_MESH = /^MESHLESS_SETUP_/;

/** One variable's value, or undefined when unset or blank (templated manifests leave blanks). */
function envValue(env: MeshEnv, name: string): string | undefined {
  if (!Object.hasOwn(env, name)) return undefined;
  const raw = env[name];
  if (typeof raw !== 'string') return undefined;
  if (raw.length > MAX_ENV_VALUE_LENGTH)
    throw new ConfigError(`${name}: longer than ${MAX_ENV_VALUE_LENGTH} characters (${raw.length})`, {
      path: name,
    });
  const value = raw.trim();
  return value === '' ? undefined : value;
}

/**
 * The options the MESHLESS_* variables of `env` set, parsed (numbers, lists, booleans) but not
 * yet range-checked: createMesh merges them under its explicit options and the options schema
 * checks the result. A value that does not parse is a ConfigError whose path is the variable.
 */
export function optionsFromEnv(env: MeshEnv = process.env): Partial<MeshOptions> {
  const out: Record<string, unknown> = {};
  for (const variable of ENV_VARIABLES) {
    const value = envValue(env, variable.name);
    if (value === undefined) continue;
    let parsed: unknown;
    try {
      parsed = variable.parse(value);
    } catch (error) {
      throw new ConfigError(`${variable.name}: ${(error as Error).message}`, { path: variable.name });
    }
    const [head, field] = variable.path;
    if (field === undefined) out[head] = parsed;
    else {
      const inner = (out[head] ?? {}) as Record<string, unknown>;
      inner[field] = parsed;
      out[head] = inner;
    }
  }
  return out as Partial<MeshOptions>;
}

/** The option paths (`service.port`) whose value in `merged` came from `env`, with their variable. */
export function envSources(explicit: MeshOptionsInput, env: MeshEnv): Map<string, string> {
  const sources = new Map<string, string>();
  for (const variable of ENV_VARIABLES) {
    if (envValue(env, variable.name) === undefined) continue;
    const [head, field] = variable.path;
    const top = (explicit as Record<string, unknown>)[head];
    const set = field === undefined ? top !== undefined : isRecord(top) && top[field] !== undefined;
    if (!set) sources.set(variable.path.join('.'), variable.name);
  }
  return sources;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
/** Options whose fields merge one by one; every other option is taken whole. */
const NESTED = new Set(['service', 'propagate']);

/** `fromEnv` under `explicit`: explicit wins field by field (within `service` too); undefined is unset. */
export function mergeEnvOptions(explicit: MeshOptionsInput, fromEnv: Partial<MeshOptions>): MeshOptions {
  const merged: Record<string, unknown> = { ...explicit };
  for (const [key, value] of Object.entries(fromEnv)) {
    const mine = merged[key];
    if (mine === undefined) merged[key] = value;
    else if (NESTED.has(key) && isRecord(mine) && isRecord(value)) {
      const inner: Record<string, unknown> = { ...value };
      for (const [field, v] of Object.entries(mine)) if (v !== undefined) inner[field] = v;
      merged[key] = inner;
    }
  }
  return merged as MeshOptions;
}

/**
 * A schema error about a value that came from the environment, worded with its variable
 * (`MESHLESS_DATACENTERS: expected a datacenter name ...`); other errors as they are.
 */
export function envError(error: unknown, sources: ReadonlyMap<string, string>): unknown {
  if (!(error instanceof ConfigError) || sources.size === 0) return error;
  for (const [path, name] of sources) {
    if (error.path !== path && !error.path.startsWith(`${path}.`) && !error.path.startsWith(`${path}[`))
      continue;
    const what = error.message.startsWith(`${error.path}: `)
      ? error.message.slice(error.path.length + 2)
      : error.message;
    const where = error.path === path ? '' : ` (at ${error.path})`;
    return new ConfigError(`${name}: ${what}${where}`, { path: name, cause: error });
  }
  return error;
}

/** MESHLESS_* names in `env` the mesh does not read, each with the nearest known one if close. */
export function unknownEnvVariables(env: MeshEnv): { name: string; suggestion: string | undefined }[] {
  const out: { name: string; suggestion: string | undefined }[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('MESHLESS_') || KNOWN.has(name) || NOT_MESH.test(name)) continue;
    out.push({ name, suggestion: nearest(name, KNOWN) });
    // Bounded: a hostile environment does not make an unbounded warning.
    if (out.length === 16) break;
  }
  return out;
}

/** Names already warned about: a stray variable is said once per process, not once per mesh. */
const warned = new Set<string>();

/** Warns (once per name) about MESHLESS_* variables the mesh does not read: stray ones are not errors. */
export function warnUnknownEnvVariables(env: MeshEnv, logger: Logger): void {
  for (const { name, suggestion } of unknownEnvVariables(env)) {
    if (warned.has(name)) continue;
    warned.add(name);
    const hint = suggestion ? ` (did you mean ${suggestion}?)` : '';
    logger.warn(`meshless: ignoring unknown environment variable ${name}${hint}`, { variable: name });
  }
}

/**
 * createMesh's options: the explicit ones over those of the environment (`options.env`, default
 * process.env; `false`: none), checked by the one options schema. Errors about a value that came
 * from a variable name the variable. The environment is returned for the CONSUL_HTTP_* reader.
 */
export function resolveMeshOptions(explicit: MeshOptionsInput): { options: MeshOptions; env: MeshEnv } {
  if (!isRecord(explicit)) {
    parseOrThrow(meshOptionsSchema, explicit);
    return { options: explicit as MeshOptions, env: {} };
  }
  // A bad `env` reads as none here; the schema then reports it at its path.
  const env: MeshEnv = isRecord(explicit.env)
    ? (explicit.env as MeshEnv)
    : explicit.env === undefined
      ? process.env
      : {};
  const options = mergeEnvOptions(explicit, optionsFromEnv(env));
  try {
    parseOrThrow(meshOptionsSchema, options);
  } catch (error) {
    throw envError(error, envSources(explicit, env));
  }
  return { options, env };
}
