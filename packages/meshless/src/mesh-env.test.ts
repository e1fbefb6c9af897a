import { ConfigError, type Logger } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import {
  ENV_VARIABLES,
  MAX_ENV_VALUE_LENGTH,
  type MeshEnv,
  type MeshOptionsInput,
  mergeEnvOptions,
  optionsFromEnv,
  resolveMeshOptions,
  unknownEnvVariables,
  warnUnknownEnvVariables,
} from './mesh-env.ts';

/** The ConfigError `run` throws. */
function thrown(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const resolved = (env: MeshEnv, explicit: MeshOptionsInput = {}) =>
  resolveMeshOptions({ ...explicit, env }).options;

describe('optionsFromEnv', () => {
  it('reads every MESHLESS_* variable into its option', () => {
    const env = {
      MESHLESS_SERVICE_NAME: 'catalog',
      MESHLESS_SERVICE_PORT: '8080',
      MESHLESS_SERVICE_ADDRESS: '10.0.0.7',
      MESHLESS_SERVICE_ID: 'catalog-1',
      MESHLESS_SERVICE_VERSION: 'v2',
      MESHLESS_SERVICE_ZONE: 'eu-1a',
      MESHLESS_SERVICE_REGION: 'eu-1',
      MESHLESS_SERVICE_WEIGHT: '3',
      MESHLESS_SERVICE_TAGS: 'blue, canary,,',
      MESHLESS_SERVICE_META: 'team=search, tier = gold',
      MESHLESS_SERVICE_REGISTER: 'no',
      MESHLESS_PREFIX: 'gov/prod',
      MESHLESS_DATACENTERS: 'dc1, dc2',
      MESHLESS_RULES_DATACENTER: ' dc1 ',
      MESHLESS_CACHE_DIR: '/var/cache/meshless',
      MESHLESS_PROPAGATE_HEADERS: 'x-user-id,x-user-group',
      MESHLESS_LOG_LEVEL: 'INFO',
      MESHLESS_HANDLE_SIGNALS: 'true',
      MESHLESS_ZERO_TRUST: 'on',
    };
    expect(Object.keys(env).sort()).toEqual(ENV_VARIABLES.map((v) => v.name).sort());
    const options = optionsFromEnv(env);
    expect(options).toEqual({
      service: {
        name: 'catalog',
        port: 8080,
        address: '10.0.0.7',
        id: 'catalog-1',
        version: 'v2',
        zone: 'eu-1a',
        region: 'eu-1',
        weight: 3,
        tags: ['blue', 'canary'],
        meta: { team: 'search', tier: 'gold' },
        register: false,
      },
      prefix: 'gov/prod',
      datacenters: ['dc1', 'dc2'],
      rulesDatacenter: 'dc1',
      cacheDir: '/var/cache/meshless',
      propagate: { headers: ['x-user-id', 'x-user-group'] },
      logger: 'info',
      handleSignals: true,
      zeroTrust: true,
    });
    expect(Object.getPrototypeOf(options.service?.meta)).toBeNull();
    // The whole set passes the options schema.
    expect(resolved(env)).toMatchObject({ service: { name: 'catalog', port: 8080 } });
  });

  it('reads nothing from an empty environment, and treats blank values as unset', () => {
    expect(optionsFromEnv({})).toEqual({});
    expect(optionsFromEnv({ MESHLESS_SERVICE_PORT: '  ', MESHLESS_PREFIX: '' })).toEqual({});
    expect(optionsFromEnv({ MESHLESS_CACHE_DIR: 'FALSE' })).toEqual({ cacheDir: false });
  });

  it('names the variable of a value that does not parse', () => {
    expect(thrown(() => optionsFromEnv({ MESHLESS_SERVICE_PORT: 'abc' }))).toMatchObject({
      path: 'MESHLESS_SERVICE_PORT',
      message: 'MESHLESS_SERVICE_PORT: expected an integer 1-65535, got "abc"',
    });
    for (const port of ['0', '65536', '80.5', '-1', '1e3', '99999999999'])
      expect(thrown(() => optionsFromEnv({ MESHLESS_SERVICE_PORT: port })).path).toBe(
        'MESHLESS_SERVICE_PORT',
      );
    expect(thrown(() => optionsFromEnv({ MESHLESS_SERVICE_WEIGHT: 'heavy' })).message).toBe(
      'MESHLESS_SERVICE_WEIGHT: expected an integer 1-65535, got "heavy"',
    );
    expect(thrown(() => optionsFromEnv({ MESHLESS_HANDLE_SIGNALS: 'sometimes' })).message).toBe(
      'MESHLESS_HANDLE_SIGNALS: expected true or false (1/0, yes/no, on/off), got "sometimes"',
    );
    expect(thrown(() => optionsFromEnv({ MESHLESS_SERVICE_REGISTER: 'y' })).path).toBe(
      'MESHLESS_SERVICE_REGISTER',
    );
    expect(thrown(() => optionsFromEnv({ MESHLESS_SERVICE_META: 'team' })).message).toBe(
      'MESHLESS_SERVICE_META: expected key=value pairs (keys of letters, digits, _ and -), got "team"',
    );
  });

  it('treats the environment as hostile: bounded values, no prototype keys', () => {
    const long = 'a'.repeat(MAX_ENV_VALUE_LENGTH + 1);
    expect(thrown(() => optionsFromEnv({ MESHLESS_SERVICE_NAME: long }))).toMatchObject({
      path: 'MESHLESS_SERVICE_NAME',
      message: `MESHLESS_SERVICE_NAME: longer than ${MAX_ENV_VALUE_LENGTH} characters (${long.length})`,
    });
    expect(
      optionsFromEnv({ MESHLESS_SERVICE_NAME: 'a'.repeat(MAX_ENV_VALUE_LENGTH) }).service?.name,
    ).toHaveLength(MAX_ENV_VALUE_LENGTH);
    for (const key of ['__proto__', 'constructor', 'prototype'])
      expect(thrown(() => optionsFromEnv({ MESHLESS_SERVICE_META: `${key}=x` })).path).toBe(
        'MESHLESS_SERVICE_META',
      );
    // A variable inherited through the prototype is not the environment's.
    const inherited = Object.create({ MESHLESS_SERVICE_NAME: 'ghost' }) as MeshEnv;
    expect(optionsFromEnv(inherited)).toEqual({});
    expect(({} as Record<string, unknown>).team).toBeUndefined();
  });
});

describe('explicit options over the environment', () => {
  const env = {
    MESHLESS_SERVICE_NAME: 'from-env',
    MESHLESS_SERVICE_PORT: '8080',
    MESHLESS_SERVICE_VERSION: 'v-env',
    MESHLESS_PREFIX: 'env-prefix',
    MESHLESS_DATACENTERS: 'dc1,dc2',
  };

  it('explicit wins field by field, within service too; undefined is unset', () => {
    const merged = mergeEnvOptions(
      {
        service: { name: 'from-code', port: 9000, version: undefined },
        datacenters: ['dc3'],
        prefix: undefined,
      },
      optionsFromEnv(env),
    );
    expect(merged).toMatchObject({
      service: { name: 'from-code', port: 9000, version: 'v-env' },
      datacenters: ['dc3'],
      prefix: 'env-prefix',
    });
  });

  it('code may leave out of service what the environment gives (typed as such)', () => {
    const options = resolved(env, { service: { version: 'v-code', healthPath: false } });
    expect(options.service).toEqual({ name: 'from-env', port: 8080, version: 'v-code', healthPath: false });
  });

  it('an explicit nested object (meta, tags) is taken whole, not merged key by key', () => {
    const merged = mergeEnvOptions(
      { service: { name: 'a', port: 1, meta: { team: 'code' } } },
      optionsFromEnv({ MESHLESS_SERVICE_META: 'tier=gold' }),
    );
    expect(merged.service?.meta).toEqual({ team: 'code' });
  });

  it('env: false reads none, and a bad env is an option error at its path', () => {
    const options = resolveMeshOptions({ env: false, prefix: 'p' }).options;
    expect(options.service).toBeUndefined();
    expect(thrown(() => resolveMeshOptions({ env: 'MESHLESS_PREFIX=x' as never }))).toMatchObject({
      path: 'env',
    });
  });
});

describe('schema errors about a value from the environment', () => {
  it('name the variable, not the option path', () => {
    expect(thrown(() => resolved({ MESHLESS_PROPAGATE_HEADERS: 'x-user-id,host' }))).toMatchObject({
      path: 'MESHLESS_PROPAGATE_HEADERS',
      message: expect.stringMatching(
        /^MESHLESS_PROPAGATE_HEADERS: "host" belongs to one connection.* \(at propagate\.headers\[1\]\)$/,
      ),
    });
    expect(thrown(() => resolved({ MESHLESS_LOG_LEVEL: 'loud' }))).toMatchObject({
      path: 'MESHLESS_LOG_LEVEL',
      message: expect.stringMatching(/^MESHLESS_LOG_LEVEL: expected a Logger .* got "loud"$/),
    });
    expect(thrown(() => resolved({ MESHLESS_PREFIX: '//' })).message).toBe(
      'MESHLESS_PREFIX: must not be empty',
    );
  });

  it('keep the option path when the bad value was explicit', () => {
    const error = thrown(() => resolved({ MESHLESS_PREFIX: 'fine' }, { prefix: '//' }));
    expect(error).toMatchObject({ path: 'prefix', message: 'prefix: must not be empty' });
    // A service part from the environment does not make a service without a name.
    expect(thrown(() => resolved({ MESHLESS_SERVICE_PORT: '8080' })).path).toBe('service.name');
  });
});

describe('unknown MESHLESS_* variables', () => {
  it('are listed with the nearest known name; other variables and the setup script are not', () => {
    const env = {
      MESHLESS_SERVICE_PROT: '80',
      MESHLESS_FOO_BAR_BAZ: '1',
      MESHLESS_SETUP_DRY_RUN: '1',
      MESHLESS_PREFIX: 'p',
      PATH: '/bin',
    };
    expect(unknownEnvVariables(env)).toEqual([
      { name: 'MESHLESS_SERVICE_PROT', suggestion: 'MESHLESS_SERVICE_PORT' },
      { name: 'MESHLESS_FOO_BAR_BAZ', suggestion: undefined },
    ]);
  });

  it('are warned about once per process through the logger, never thrown', () => {
    const warnings: string[] = [];
    const logger: Logger = { debug() {}, info() {}, error() {}, warn: (m) => warnings.push(m) };
    const env = { MESHLESS_SERVCE_NAME: 'x' };
    warnUnknownEnvVariables(env, logger);
    warnUnknownEnvVariables(env, logger);
    expect(warnings).toEqual([
      'meshless: ignoring unknown environment variable MESHLESS_SERVCE_NAME (did you mean MESHLESS_SERVICE_NAME?)',
    ]);
  });

  it('are bounded in number', () => {
    const env: Record<string, string> = {};
    for (let i = 0; i < 100; i++) env[`MESHLESS_STRAY_${i}`] = 'x';
    expect(unknownEnvVariables(env)).toHaveLength(16);
  });
});
