/**
 * Environment -> typed, frozen configuration. This is the only module that reads the
 * environment (G10): `loadConfig()` is called once by the composition root and the result is
 * passed down. One TypeBox schema describes every variable (type, bounds, default, description);
 * `ENV_VARIABLES` is derived from it so the README and a test can check they agree.
 *
 * An empty value counts as unset (compose files often write `TALLY_API_KEYS=`), so it takes the
 * default. Every problem is reported at once, not the first one only.
 */
import { availableParallelism } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ServiceError } from './errors.js'

const GIB = 1024 ** 3
const DAY_SECONDS = 24 * 60 * 60
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/**
 * Extra schema options used here: `expected` (how a message describes a valid value when the
 * bounds do not say it), `defaultText` (the documented default when it is computed at start),
 * `secret` (never echo the value in a message: keys and URLs with passwords).
 */
export const EnvSchema = Type.Object({
  TALLY_HOST: Type.String({
    minLength: 1,
    default: '0.0.0.0',
    expected: 'a host name or IP address',
    description: 'Address the HTTP server listens on.',
  }),
  TALLY_PORT: Type.Integer({
    minimum: 1,
    maximum: 65535,
    default: 8000,
    description: 'TCP port the HTTP server listens on.',
  }),
  TALLY_DATA_DIR: Type.String({
    minLength: 1,
    default: './data',
    expected: 'a directory path',
    description: 'Directory for the job database and, by default, uploads and results.',
  }),
  TALLY_STORAGE: Type.Optional(
    Type.String({
      pattern: '^(file|s3)://.+',
      expected: 'a file:// or s3:// URL',
      defaultText: 'file://<TALLY_DATA_DIR>/files',
      secret: true,
      description:
        'Where uploads, results and rejects are stored: file:///absolute/dir, file://relative/dir, or an s3:// URL.',
    }),
  ),
  TALLY_API_KEYS: Type.Array(Type.String({ pattern: '^[\\x21-\\x2b\\x2d-\\x7e]+$' }), {
    default: [],
    defaultText: 'none (no authentication)',
    expected: 'comma-separated keys of printable characters without spaces',
    secret: true,
    description:
      'Comma-separated API keys. When set, requests need `Authorization: Bearer KEY` or `X-API-Key`, and each key sees only its own jobs.',
  }),
  TALLY_CORS_ORIGINS: Type.Array(Type.String({ pattern: '^https?://[^/\\s,]+$' }), {
    default: [],
    defaultText: 'none (CORS off)',
    expected:
      'comma-separated origins such as https://app.example.com (scheme, host, optional port)',
    description:
      'Comma-separated origins whose browser pages may call the API (CORS). Off by default: the web UI is served from the same origin and needs none.',
  }),
  TALLY_MAX_UPLOAD_BYTES: Type.Integer({
    minimum: 1,
    maximum: Number.MAX_SAFE_INTEGER,
    default: 10 * GIB,
    description: 'Largest accepted upload, in bytes (compressed size for gzip uploads).',
  }),
  TALLY_MAX_INPUT_BYTES: Type.Integer({
    minimum: 1,
    maximum: Number.MAX_SAFE_INTEGER,
    default: 100 * GIB,
    description:
      'Largest CSV accepted once decompressed, in bytes: a small gzip upload cannot fill the disk.',
  }),
  TALLY_RESULT_TTL: Type.Integer({
    minimum: 1,
    maximum: 100 * 365 * DAY_SECONDS,
    default: 7 * DAY_SECONDS,
    description: "Seconds a finished job's files are kept; afterwards its result answers 410.",
  }),
  TALLY_CONCURRENCY: Type.Integer({
    minimum: 1,
    maximum: 256,
    default: 2,
    description: 'Jobs run at once by this process.',
  }),
  TALLY_THREADS: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 256,
      defaultText: 'number of cores',
      description: 'Worker threads per job.',
    }),
  ),
  TALLY_MEMORY_MB: Type.Integer({
    minimum: 16,
    maximum: 1024 * 1024,
    default: 1024,
    description: "Memory budget in MiB for one job's groups; beyond it the job spills to disk.",
  }),
  TALLY_SPLIT_MB: Type.Integer({
    minimum: 1,
    maximum: 1024 * 1024,
    default: 256,
    description:
      'With Redis, a plain input larger than this many MiB is split across the workers when there are several; with S3, a worker reads this much of an input at a time.',
  }),
  TALLY_QUEUE_LIMIT: Type.Integer({
    minimum: 1,
    maximum: 10_000_000,
    default: 1000,
    description: 'Queued jobs accepted before new submissions get 503 with Retry-After.',
  }),
  TALLY_LOG_LEVEL: Type.Union(
    LOG_LEVELS.map((level) => Type.Literal(level)),
    {
      default: 'info',
      description: 'Log level: one of fatal, error, warn, info, debug, trace, silent.',
    },
  ),
  REDIS_URL: Type.Optional(
    Type.String({
      pattern: '^rediss?://.+',
      expected: 'a redis:// or rediss:// URL',
      defaultText: 'unset (embedded SQLite queue)',
      secret: true,
      description:
        'When set, jobs go through BullMQ on this Redis server and run on `tally worker`s.',
    }),
  ),
  TALLY_MAX_ATTEMPTS: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 3,
    description:
      'Runs of a job that fails with transient errors (storage or process failures) before it is marked failed.',
  }),
  TALLY_S3_ENDPOINT: Type.Optional(
    Type.String({
      pattern: '^https?://.+',
      expected: 'an http:// or https:// URL',
      defaultText: 'unset (AWS S3)',
      description:
        'With an s3:// TALLY_STORAGE: an S3-compatible server to use instead of AWS, e.g. http://minio:9000.',
    }),
  ),
  TALLY_S3_REGION: Type.Optional(
    Type.String({
      minLength: 1,
      expected: 'a region name',
      defaultText: "us-east-1 with TALLY_S3_ENDPOINT, else the AWS SDK's (AWS_REGION)",
      description: 'S3 region of the bucket.',
    }),
  ),
  TALLY_S3_ACCESS_KEY_ID: Type.Optional(
    Type.String({
      minLength: 1,
      expected: 'an access key id',
      defaultText: "unset (the AWS SDK's credential chain)",
      description: 'S3 access key id; set it together with TALLY_S3_SECRET_ACCESS_KEY, or neither.',
    }),
  ),
  TALLY_S3_SECRET_ACCESS_KEY: Type.Optional(
    Type.String({
      minLength: 1,
      expected: 'a secret access key',
      defaultText: "unset (the AWS SDK's credential chain)",
      secret: true,
      description:
        'S3 secret access key; set it together with TALLY_S3_ACCESS_KEY_ID, or neither. Never logged.',
    }),
  ),
  TALLY_S3_FORCE_PATH_STYLE: Type.Optional(
    Type.Boolean({
      expected: 'true or false',
      defaultText: 'true with TALLY_S3_ENDPOINT, else false',
      description:
        'Path-style addressing (`http://host/bucket/key`), which most S3-compatible servers need.',
    }),
  ),
})

export type Env = Static<typeof EnvSchema>
export type LogLevel = (typeof LOG_LEVELS)[number]

/** Where blobs live, parsed once from `TALLY_STORAGE`. */
export type StorageLocation =
  | { readonly kind: 'file'; readonly root: string }
  | { readonly kind: 's3'; readonly url: string }

export interface Config {
  readonly host: string
  readonly port: number
  /** Absolute path. */
  readonly dataDir: string
  readonly storage: StorageLocation
  readonly apiKeys: readonly string[]
  /** Origins allowed by CORS; empty: CORS off. */
  readonly corsOrigins: readonly string[]
  readonly maxUploadBytes: number
  readonly maxInputBytes: number
  readonly resultTtlSeconds: number
  /** Jobs run at once. */
  readonly concurrency: number
  /** Worker threads per job. */
  readonly threads: number
  readonly memoryMb: number
  /** Inputs larger than this are split across workers, and read from S3 this much at a time. */
  readonly splitBytes: number
  readonly queueLimit: number
  readonly logLevel: LogLevel
  readonly redisUrl: string | undefined
  /** Runs of a job that fails with transient errors. */
  readonly maxAttempts: number
  /** S3 client settings, used with an s3:// storage location. */
  readonly s3: S3Settings
}

/** How to reach an s3:// store; absent fields take the AWS SDK's own sources. */
export interface S3Settings {
  /** An S3-compatible server; absent: AWS S3. */
  readonly endpoint?: string
  /** `us-east-1` by default with an endpoint; absent otherwise: the SDK's (AWS_REGION, ~/.aws). */
  readonly region?: string
  /** Both or neither. */
  readonly accessKeyId?: string
  /** Secret: never log it. */
  readonly secretAccessKey?: string
  /** Default: true with an endpoint, false on AWS. */
  readonly forcePathStyle?: boolean
}

export interface EnvVariable {
  readonly name: keyof Env
  /** The default as documented: a literal value, or how it is computed. */
  readonly default: string
  readonly description: string
}

/** Every variable with its documented default and description, in schema order. */
export const ENV_VARIABLES: readonly EnvVariable[] = Object.freeze(
  Object.entries(EnvSchema.properties).map(([name, schema]: [string, TSchema]) =>
    Object.freeze({
      name: name as keyof Env,
      default: schema.defaultText ?? String(schema.default),
      description: schema.description ?? '',
    }),
  ),
)

export class ConfigError extends ServiceError<'CONFIG_INVALID'> {
  override name = 'ConfigError'
  readonly problems: readonly string[]

  constructor(problems: readonly string[]) {
    super('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`)
    this.problems = problems
  }
}

/** Reads, validates and freezes the configuration. Throws `ConfigError` listing every problem. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): Config {
  const problems: string[] = []
  const values: Record<string, unknown> = {}
  for (const [name, schema] of Object.entries(EnvSchema.properties) as [string, TSchema][]) {
    const raw = env[name]?.trim()
    if (raw === undefined || raw === '') {
      // A copy: freezing the config must not freeze the schema's own default array.
      values[name] = structuredClone(schema.default)
      continue
    }
    const value = fromText(schema, raw)
    if (Value.Check(schema, value)) values[name] = value
    else {
      const got = schema.secret ? 'an invalid value (not shown)' : `'${shorten(raw)}'`
      problems.push(`${name}: expected ${describe(schema)}, got ${got}`)
    }
  }
  const e = values as Env
  if ((e.TALLY_S3_ACCESS_KEY_ID === undefined) !== (e.TALLY_S3_SECRET_ACCESS_KEY === undefined)) {
    problems.push(
      'TALLY_S3_ACCESS_KEY_ID and TALLY_S3_SECRET_ACCESS_KEY: set both or neither (got only one)',
    )
  }
  if (problems.length > 0) throw new ConfigError(problems)
  const dataDir = resolve(cwd, e.TALLY_DATA_DIR)
  return deepFreeze({
    host: e.TALLY_HOST,
    port: e.TALLY_PORT,
    dataDir,
    storage: parseStorage(e.TALLY_STORAGE ?? pathToFileURL(join(dataDir, 'files')).href, cwd),
    apiKeys: e.TALLY_API_KEYS,
    corsOrigins: e.TALLY_CORS_ORIGINS,
    maxUploadBytes: e.TALLY_MAX_UPLOAD_BYTES,
    maxInputBytes: e.TALLY_MAX_INPUT_BYTES,
    resultTtlSeconds: e.TALLY_RESULT_TTL,
    concurrency: e.TALLY_CONCURRENCY,
    threads: e.TALLY_THREADS ?? availableParallelism(),
    memoryMb: e.TALLY_MEMORY_MB,
    splitBytes: e.TALLY_SPLIT_MB * 1024 * 1024,
    queueLimit: e.TALLY_QUEUE_LIMIT,
    logLevel: e.TALLY_LOG_LEVEL,
    redisUrl: e.REDIS_URL,
    maxAttempts: e.TALLY_MAX_ATTEMPTS,
    s3: s3Settings(e),
  })
}

function s3Settings(e: Env): S3Settings {
  const endpoint = e.TALLY_S3_ENDPOINT
  const custom = endpoint !== undefined
  const settings: { -readonly [K in keyof S3Settings]: S3Settings[K] } = {
    forcePathStyle: e.TALLY_S3_FORCE_PATH_STYLE ?? custom,
  }
  if (custom) settings.endpoint = endpoint
  const region = e.TALLY_S3_REGION ?? (custom ? 'us-east-1' : undefined)
  if (region !== undefined) settings.region = region
  if (e.TALLY_S3_ACCESS_KEY_ID !== undefined) settings.accessKeyId = e.TALLY_S3_ACCESS_KEY_ID
  if (e.TALLY_S3_SECRET_ACCESS_KEY !== undefined) {
    settings.secretAccessKey = e.TALLY_S3_SECRET_ACCESS_KEY
  }
  return settings
}

/**
 * `TALLY_*` variables that the schema does not know: most likely typos (`TALLY_PROT`). Returned
 * for the composition root to log as warnings rather than refused, so tools that share the prefix
 * (bench, tests) do not stop the server.
 */
export function unknownVariables(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string[] {
  return Object.keys(env).filter(
    (name) => name.startsWith('TALLY_') && !(name in EnvSchema.properties),
  )
}

/** Environment text -> the schema's type. Strictly: `8000abc` and `1e3` are not integers. */
function fromText(schema: TSchema, raw: string): unknown {
  if (schema.type === 'integer') return /^[0-9]+$/.test(raw) ? Number(raw) : raw
  if (schema.type === 'boolean') {
    const lower = raw.toLowerCase()
    if (['true', '1', 'yes', 'on'].includes(lower)) return true
    if (['false', '0', 'no', 'off'].includes(lower)) return false
    return raw
  }
  if (schema.type === 'array') {
    return raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '')
  }
  return raw
}

function describe(schema: TSchema): string {
  if (schema.expected !== undefined) return schema.expected
  if (schema.type === 'integer') {
    return schema.maximum === undefined
      ? `an integer of at least ${schema.minimum}`
      : `an integer from ${schema.minimum} to ${schema.maximum}`
  }
  if (Array.isArray(schema.anyOf)) {
    return `one of ${schema.anyOf.map((s: TSchema) => s.const).join(', ')}`
  }
  return 'a valid value'
}

/**
 * `file:///abs/dir` is a standard file URL; `file://relative/dir` (not a valid URL host) is
 * accepted as a path relative to the working directory, the way people write it in `.env` files.
 */
function parseStorage(url: string, cwd: string): StorageLocation {
  if (url.startsWith('s3://')) return { kind: 's3', url }
  const rest = url.slice('file://'.length)
  const root = isAbsolute(rest) ? fileURLToPath(url) : resolve(cwd, decodeURIComponent(rest))
  return { kind: 'file', root }
}

function shorten(text: string, maxChars = 60): string {
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}
