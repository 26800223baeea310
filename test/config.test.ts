import { availableParallelism } from 'node:os'
import { describe, expect, it } from 'vitest'
import {
  ConfigError,
  ENV_VARIABLES,
  EnvSchema,
  loadConfig,
  unknownVariables,
} from '../src/config.js'

const CWD = '/srv/tally'

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env, CWD)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).code).toBe('CONFIG_INVALID')
    return (error as ConfigError).problems
  }
  throw new Error('expected loadConfig to throw')
}

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    expect(loadConfig({}, CWD)).toEqual({
      host: '0.0.0.0',
      port: 8000,
      dataDir: '/srv/tally/data',
      storage: { kind: 'file', root: '/srv/tally/data/files' },
      apiKeys: [],
      corsOrigins: [],
      maxUploadBytes: 10 * 1024 ** 3,
      maxInputBytes: 100 * 1024 ** 3,
      resultTtlSeconds: 7 * 24 * 3600,
      concurrency: 2,
      threads: availableParallelism(),
      memoryMb: 1024,
      splitBytes: 256 * 1024 ** 2,
      queueLimit: 1000,
      logLevel: 'info',
      redisUrl: undefined,
      maxAttempts: 3,
      s3: { forcePathStyle: false },
    })
  })

  it('reads every variable', () => {
    const config = loadConfig(
      {
        TALLY_HOST: '127.0.0.1',
        TALLY_PORT: '9000',
        TALLY_DATA_DIR: '/var/lib/tally',
        TALLY_STORAGE: 's3://bucket/prefix',
        TALLY_API_KEYS: 'key-one, key-two,,',
        TALLY_CORS_ORIGINS: 'https://app.example.com',
        TALLY_MAX_UPLOAD_BYTES: '1048576',
        TALLY_MAX_INPUT_BYTES: '5000000',
        TALLY_RESULT_TTL: '3600',
        TALLY_CONCURRENCY: '4',
        TALLY_THREADS: '3',
        TALLY_MEMORY_MB: '256',
        TALLY_SPLIT_MB: '64',
        TALLY_QUEUE_LIMIT: '10',
        TALLY_LOG_LEVEL: 'debug',
        REDIS_URL: 'redis://localhost:6379',
        TALLY_MAX_ATTEMPTS: '5',
        TALLY_S3_ENDPOINT: 'http://minio:9000',
        TALLY_S3_REGION: 'eu-west-1',
        TALLY_S3_ACCESS_KEY_ID: 'AKID',
        TALLY_S3_SECRET_ACCESS_KEY: 'shh',
        TALLY_S3_FORCE_PATH_STYLE: 'false',
      },
      CWD,
    )
    expect(config).toEqual({
      host: '127.0.0.1',
      port: 9000,
      dataDir: '/var/lib/tally',
      storage: { kind: 's3', url: 's3://bucket/prefix' },
      apiKeys: ['key-one', 'key-two'],
      corsOrigins: ['https://app.example.com'],
      maxUploadBytes: 1048576,
      maxInputBytes: 5000000,
      resultTtlSeconds: 3600,
      concurrency: 4,
      threads: 3,
      memoryMb: 256,
      splitBytes: 64 * 1024 ** 2,
      queueLimit: 10,
      logLevel: 'debug',
      redisUrl: 'redis://localhost:6379',
      maxAttempts: 5,
      s3: {
        endpoint: 'http://minio:9000',
        region: 'eu-west-1',
        accessKeyId: 'AKID',
        secretAccessKey: 'shh',
        forcePathStyle: false,
      },
    })
  })

  it('defaults the S3 region and path style for a custom endpoint, and needs both keys', () => {
    expect(loadConfig({ TALLY_S3_ENDPOINT: 'http://127.0.0.1:9000' }, CWD).s3).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      forcePathStyle: true,
    })
    expect(loadConfig({ TALLY_S3_REGION: 'eu-west-1' }, CWD).s3).toEqual({
      region: 'eu-west-1',
      forcePathStyle: false,
    })
    expect(loadConfig({ TALLY_S3_FORCE_PATH_STYLE: 'yes' }, CWD).s3.forcePathStyle).toBe(true)
    expect(problemsOf({ TALLY_S3_SECRET_ACCESS_KEY: 'hunter2' })).toEqual([
      'TALLY_S3_ACCESS_KEY_ID and TALLY_S3_SECRET_ACCESS_KEY: set both or neither (got only one)',
    ])
    expect(
      problemsOf({ TALLY_S3_FORCE_PATH_STYLE: 'maybe', TALLY_S3_ENDPOINT: 'minio:9000' }),
    ).toEqual([
      "TALLY_S3_ENDPOINT: expected an http:// or https:// URL, got 'minio:9000'",
      "TALLY_S3_FORCE_PATH_STYLE: expected true or false, got 'maybe'",
    ])
    expect(problemsOf({ TALLY_MAX_ATTEMPTS: '0' })).toEqual([
      "TALLY_MAX_ATTEMPTS: expected an integer from 1 to 100, got '0'",
    ])
  })

  it('treats empty and blank values as unset', () => {
    const config = loadConfig({ TALLY_PORT: '', TALLY_API_KEYS: '', TALLY_THREADS: '  ' }, CWD)
    expect(config.port).toBe(8000)
    expect(config.apiKeys).toEqual([])
    expect(config.threads).toBe(availableParallelism())
  })

  it('reports every problem at once, quoting the value', () => {
    expect(
      problemsOf({
        TALLY_PORT: 'abc',
        TALLY_CONCURRENCY: '0',
        TALLY_THREADS: '1.5',
        TALLY_MEMORY_MB: '1e3',
        TALLY_LOG_LEVEL: 'loud',
        TALLY_HOST: 'ok-host',
      }),
    ).toEqual([
      "TALLY_PORT: expected an integer from 1 to 65535, got 'abc'",
      "TALLY_CONCURRENCY: expected an integer from 1 to 256, got '0'",
      "TALLY_THREADS: expected an integer from 1 to 256, got '1.5'",
      "TALLY_MEMORY_MB: expected an integer from 16 to 1048576, got '1e3'",
      "TALLY_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got 'loud'",
    ])
  })

  it('puts every problem in the error message, one per line', () => {
    expect(() => loadConfig({ TALLY_PORT: '70000', TALLY_QUEUE_LIMIT: '-1' }, CWD)).toThrow(
      "invalid configuration:\n  TALLY_PORT: expected an integer from 1 to 65535, got '70000'\n  TALLY_QUEUE_LIMIT: expected an integer from 1 to 10000000, got '-1'",
    )
  })

  it('never echoes secrets in a message', () => {
    const problems = problemsOf({
      TALLY_API_KEYS: 'good-key,secret with spaces',
      REDIS_URL: 'http://user:hunter2@redis',
      TALLY_STORAGE: 'ftp://user:hunter2@host',
    })
    expect(problems).toEqual([
      'TALLY_STORAGE: expected a file:// or s3:// URL, got an invalid value (not shown)',
      'TALLY_API_KEYS: expected comma-separated keys of printable characters without spaces, got an invalid value (not shown)',
      'REDIS_URL: expected a redis:// or rediss:// URL, got an invalid value (not shown)',
    ])
    const config = loadConfig(
      { TALLY_S3_ACCESS_KEY_ID: 'AKID', TALLY_S3_SECRET_ACCESS_KEY: 'hunter2' },
      CWD,
    )
    expect(config.s3.secretAccessKey).toBe('hunter2')
    expect(problems.join('\n')).not.toContain('hunter2')
    expect(problems.join('\n')).not.toContain('secret')
  })

  it('reads file:// storage as an absolute URL or a path relative to the working directory', () => {
    expect(loadConfig({ TALLY_STORAGE: 'file:///mnt/blobs' }, CWD).storage).toEqual({
      kind: 'file',
      root: '/mnt/blobs',
    })
    expect(loadConfig({ TALLY_STORAGE: 'file://shared/blobs' }, CWD).storage).toEqual({
      kind: 'file',
      root: '/srv/tally/shared/blobs',
    })
    expect(loadConfig({ TALLY_DATA_DIR: 'state' }, CWD).storage).toEqual({
      kind: 'file',
      root: '/srv/tally/state/files',
    })
  })

  it('returns a deeply frozen object, and loading twice gives equal, separate objects', () => {
    const config = loadConfig({ TALLY_API_KEYS: 'k1' }, CWD)
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.storage)).toBe(true)
    expect(Object.isFrozen(config.apiKeys)).toBe(true)
    expect(() => (config.apiKeys as string[]).push('k2')).toThrow()
    const empty = loadConfig({}, CWD)
    expect(Object.isFrozen(empty.apiKeys)).toBe(true)
    expect(loadConfig({}, CWD)).toEqual(empty)
    expect(Object.isFrozen(EnvSchema.properties.TALLY_API_KEYS.default)).toBe(false)
  })
})

describe('ENV_VARIABLES', () => {
  it('lists every variable of the schema with its default and a description', () => {
    expect(ENV_VARIABLES.map((v) => v.name)).toEqual(Object.keys(EnvSchema.properties))
    for (const variable of ENV_VARIABLES) {
      expect(variable.description.length, variable.name).toBeGreaterThan(10)
      expect(variable.default, variable.name).not.toBe('undefined')
    }
  })

  it('includes the variables DESIGN.md requires, with their documented defaults', () => {
    const defaults = Object.fromEntries(ENV_VARIABLES.map((v) => [v.name, v.default]))
    expect(defaults).toMatchObject({
      TALLY_HOST: '0.0.0.0',
      TALLY_PORT: '8000',
      TALLY_DATA_DIR: './data',
      TALLY_STORAGE: 'file://<TALLY_DATA_DIR>/files',
      TALLY_API_KEYS: 'none (no authentication)',
      TALLY_MAX_UPLOAD_BYTES: String(10 * 1024 ** 3),
      TALLY_RESULT_TTL: String(7 * 24 * 3600),
      TALLY_CONCURRENCY: '2',
      TALLY_THREADS: 'number of cores',
      TALLY_MEMORY_MB: '1024',
      TALLY_QUEUE_LIMIT: '1000',
      TALLY_LOG_LEVEL: 'info',
      TALLY_MAX_ATTEMPTS: '3',
      TALLY_S3_ENDPOINT: 'unset (AWS S3)',
      TALLY_S3_FORCE_PATH_STYLE: 'true with TALLY_S3_ENDPOINT, else false',
    })
    expect(defaults).toHaveProperty('REDIS_URL')
  })
})

describe('unknownVariables', () => {
  it('names TALLY_ variables the schema does not know (likely typos)', () => {
    expect(
      unknownVariables({ TALLY_PROT: '1', TALLY_PORT: '2', HOME: '/root', REDIS_URL: 'x' }),
    ).toEqual(['TALLY_PROT'])
  })
})
