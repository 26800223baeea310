/**
 * The song-plays test-data generator behind `tally generate` and `npm run bench`: a
 * deterministic stream of CSV bytes for a seed.
 *
 * Layout: every song's Song field (already quoted and escaped when the name needs it) sits in
 * one byte pool in popularity-rank order, addressed by `nameOffsets[rank]..nameOffsets[rank+1]`;
 * each day's `YYYY-MM-DD` is 10 bytes of another pool. Rows are written byte by byte straight
 * into a large Buffer, handed over when nearly full: no string is made per row, which is what
 * lets a single thread write about a gigabyte in seconds.
 *
 * Randomness: one xoshiro128** stream draws each row's content (song, day, plays); a second
 * stream decides which rows become bad ones, so `--bad-rows` replaces rows of the clean file
 * rather than reshuffling it. Song names depend only on the song id; the seed decides which id
 * gets which popularity rank.
 */

/** Bumped whenever the bytes for given options change, so that cached data sets are remade. */
export const GENERATOR_VERSION = 1

export const GENERATED_HEADER = 'Song,Date,Number of Plays\n'
export const FIRST_DAY = '2020-01-01'

/** Keep dates within four-digit years and name pools within a few hundred MiB. */
export const MAX_DAYS = 100_000
export const MAX_SONGS = 10_000_000

/** Zipf's law exponent: the song of rank r is played in proportion to 1 / r^s. */
const ZIPF_EXPONENT = 1
const DEFAULT_CHUNK_BYTES = 1 << 22

export interface GenerateOptions {
  /** Data rows, header excluded. */
  rows: number
  /** Distinct songs to draw from. */
  songs: number
  /** Consecutive days starting at 2020-01-01. */
  days: number
  seed: number
  /** Fraction of rows replaced by bad ones (0..1). Default 0. */
  badRowRate?: number
  /** Size of the buffers handed to the sink; the bytes produced do not depend on it. */
  chunkBytes?: number
}

export interface GenerateSummary {
  rows: number
  badRows: number
  bytes: number
}

export type ChunkSink = (chunk: Uint8Array) => void | Promise<void>

/** Writes the whole CSV into `write`, one large chunk at a time; each chunk is the sink's to keep. */
export async function generateSongPlays(
  options: GenerateOptions,
  write: ChunkSink,
): Promise<GenerateSummary> {
  const chunks = generateSongPlaysChunks(options)
  for (;;) {
    const step = chunks.next()
    if (step.done) return step.value
    const pending = write(step.value)
    if (pending) await pending
  }
}

/** The same bytes as an iterable of chunks (for `Readable.from`); returns the summary at the end. */
export function* generateSongPlaysChunks(
  options: GenerateOptions,
): Generator<Uint8Array, GenerateSummary> {
  const generator = new SongPlaysGenerator(options)
  yield* generator.chunks()
  return generator.summary()
}

export function validateGenerateOptions(options: GenerateOptions): void {
  const { rows, songs, days, seed } = options
  const badRowRate = options.badRowRate ?? 0
  if (!Number.isSafeInteger(rows) || rows < 0) {
    throw new RangeError(`rows must be a non-negative integer, got ${rows}`)
  }
  if (!Number.isSafeInteger(songs) || songs < 1 || songs > MAX_SONGS) {
    throw new RangeError(`songs must be an integer from 1 to ${MAX_SONGS}, got ${songs}`)
  }
  if (!Number.isSafeInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new RangeError(`days must be an integer from 1 to ${MAX_DAYS}, got ${days}`)
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be a non-negative integer, got ${seed}`)
  }
  if (!(badRowRate >= 0 && badRowRate <= 1)) {
    throw new RangeError(`bad-row rate must be a number from 0 to 1, got ${badRowRate}`)
  }
  const chunkBytes = options.chunkBytes
  if (chunkBytes !== undefined && (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1024)) {
    throw new RangeError(`chunkBytes must be an integer of at least 1024, got ${chunkBytes}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Song names

// Letters only, title case: names are words from here, so a name's decorations (punctuation,
// "The", suffixes) can never be mistaken for a word, which keeps names distinct.
const WORDS: readonly string[] = (
  'Midnight Rain Golden Heart Fire Summer Dream River Shadow Light Ocean Star Wild Blue Night ' +
  'Love City Dance Electric Silver Echo Moon Sun Storm Paper Glass Stone Velvet Neon Highway ' +
  'Thunder Crystal Honey Sugar Wolf Angel Ghost Diamond Rose Desert Winter Autumn Spring ' +
  'Morning Evening Forever Broken Lonely Sweet Bitter Crazy Little Secret Falling Rising ' +
  'Running Burning Shining Fading Lost Found Home Road Train Window Mirror Garden Island ' +
  'Mountain Valley Harbor Street Avenue Satellite Rocket Planet Galaxy Cosmic Magic Wonder ' +
  'Hollow Empty Free Young Gold Black White Red Green Violet Scarlet Amber Tender Gentle Savage ' +
  'Rebel Royal Queen King Prince Kingdom Empire Paradise Heaven Butterfly Sparrow Raven Tiger ' +
  'Lion Dragon Phoenix Horizon Voyage Memory Promise Whisper Shout Silence Melody Rhythm ' +
  'Harmony Chorus Ballad Anthem Serenade Lullaby Carousel Lantern Compass Feather'
).split(' ')

// Every word holds a non-ASCII character, so these names never equal an ASCII one.
const NON_ASCII_WORDS: readonly string[] = (
  'Café Corazón Niño Señorita Mañana Canción Über Mädchen Schön Fräulein Élan Rêve Été Fiancée ' +
  'Naïve Ångström Øresund Smørrebrød Łódź Żółw Čaj Šťastný Ñandú São Coração Ação 夜 東京 愛 桜 花火 夢 ' +
  '星空 사랑 서울 별빛 Москва Любовь Ночь Дождь Ζωή Αγάπη Ψυχή 🌙 🔥 💔 🎵 ✨'
).split(' ')

const SUFFIXES = [' (Remix)', ' (Live)', ' (Acoustic Version)', ' - Radio Edit'] as const

/**
 * The name of song `id`: a distinct word sequence (bijective base-N numeration of the id), then
 * a decoration picked by a hash of the id. Per mille of songs: 30 need quoting (15 hold a comma
 * only, 8 a `"` only, 7 both), 60 are non-ASCII, 60 carry a suffix, 100 start with "The".
 */
export function songName(id: number): string {
  const bucket = fmix32(id ^ 0x5bd1e995) % 1000
  if (bucket >= 30 && bucket < 90) return spell(id, NON_ASCII_WORDS).join(' ')
  const words = spell(id, WORDS)
  if (bucket < 15) return withComma(words).join(' ')
  if (bucket < 23) return withQuotes(words).join(' ')
  if (bucket < 30) return withQuotes(withComma(words)).join(' ')
  const name = words.join(' ')
  if (bucket < 150) return name + SUFFIXES[(bucket - 90) % SUFFIXES.length]
  if (bucket < 250) return `The ${name}`
  return name
}

/**
 * Bijective base-N digits of `id + 1`, least significant first. Each word is shifted by a hash
 * of the digits before it, so high digits do not repeat the same few words; the shift depends
 * only on earlier digits, so the mapping stays one-to-one.
 */
function spell(id: number, vocabulary: readonly string[]): string[] {
  const words: string[] = []
  const size = vocabulary.length
  let n = id + 1
  let shift = 0
  while (n > 0) {
    n -= 1
    const digit = n % size
    words.push(vocabulary[(digit + shift) % size])
    shift = fmix32(shift + digit + 1) % size
    n = Math.floor(n / size)
  }
  return words
}

function withComma(words: string[]): string[] {
  if (words.length === 1) return [`${words[0]},`, 'Pt.', '2']
  return [`${words[0]},`, ...words.slice(1)]
}

function withQuotes(words: string[]): string[] {
  const last = words.length - 1
  return words.map((w, i) => (i === last ? `"${w}"` : w))
}

/** RFC 4180: quote a field holding a comma, a quote or a line end; double inner quotes. */
function csvField(value: string): { text: string; quoted: boolean } {
  if (!/[",\r\n]/.test(value)) return { text: value, quoted: false }
  return { text: `"${value.replaceAll('"', '""')}"`, quoted: true }
}

// ---------------------------------------------------------------------------------------------
// The generator

const COMMA = 0x2c
const LF = 0x0a
const QUOTE = 0x22
const MINUS = 0x2d

// Bad-row kinds: each is something DESIGN.md section 1 says a row must not be.
const BAD_CALENDAR_DATES = ['2020-02-30', '2021-02-29', '2020-04-31', '2020-13-01', '2020-06-00']
const BAD_DATE_FORMATS = ['03/03/24', '2020/01/05', '20200105', '2020-1-5', 'yesterday', '']
const BAD_NUMBERS = ['1e3', 'abc', '12a', '', '0x10']
const EMPTY_SONGS = ['', '""', '  ']
const EXTRA_FIELDS = [',', ',extra', ',1,2']
const BAD_KINDS = 7

const encoder = new TextEncoder()
const ascii = (values: readonly string[]) => values.map((v) => encoder.encode(v))

const BAD_CALENDAR_DATE_BYTES = ascii(BAD_CALENDAR_DATES)
const BAD_DATE_FORMAT_BYTES = ascii(BAD_DATE_FORMATS)
const BAD_NUMBER_BYTES = ascii(BAD_NUMBERS)
const EMPTY_SONG_BYTES = ascii(EMPTY_SONGS)
const EXTRA_FIELD_BYTES = ascii(EXTRA_FIELDS)
const DECIMAL_TAIL = encoder.encode('.5')
/** Room for everything but the name in the longest row (two numbers and literals). */
const ROW_SLACK_BYTES = 96

class SongPlaysGenerator {
  private readonly rowsTotal: number
  private readonly days: number
  private readonly badRowRate: number
  private readonly chunkBytes: number
  private readonly rng: Xoshiro128
  private readonly badRng: Xoshiro128
  private readonly names: NamePool
  private readonly dates: Uint8Array
  private readonly alias: AliasTable
  private readonly maxRowBytes: number
  private rowsLeft: number
  private badRows = 0
  private bytes = 0

  constructor(options: GenerateOptions) {
    validateGenerateOptions(options)
    this.rowsTotal = options.rows
    this.rowsLeft = options.rows
    this.days = options.days
    this.badRowRate = options.badRowRate ?? 0
    this.rng = new Xoshiro128(options.seed, 0)
    this.badRng = new Xoshiro128(options.seed, 1)
    this.names = buildNamePool(options.songs, options.seed)
    this.dates = buildDates(options.days)
    this.alias = buildZipfAlias(options.songs, ZIPF_EXPONENT)
    this.maxRowBytes = this.names.maxFieldBytes + 2 + ROW_SLACK_BYTES
    this.chunkBytes = Math.max(options.chunkBytes ?? DEFAULT_CHUNK_BYTES, 2 * this.maxRowBytes)
  }

  *chunks(): Generator<Uint8Array> {
    let buf = Buffer.allocUnsafe(this.chunkBytes)
    let pos = buf.write(GENERATED_HEADER, 0, 'latin1')
    for (;;) {
      pos = this.fill(buf, pos)
      this.bytes += pos
      yield buf.subarray(0, pos)
      if (this.rowsLeft === 0) return
      buf = Buffer.allocUnsafe(this.chunkBytes)
      pos = 0
    }
  }

  summary(): GenerateSummary {
    return { rows: this.rowsTotal, badRows: this.badRows, bytes: this.bytes }
  }

  /** The hot loop: rows into `buf` from `pos` until it is nearly full; returns the new end. */
  private fill(buf: Uint8Array, pos: number): number {
    const rng = this.rng
    const { prob, alias } = this.alias
    const { pool, offsets, quoted } = this.names
    const dates = this.dates
    const songs = prob.length
    const days = this.days
    const badRowRate = this.badRowRate
    const limit = buf.length - this.maxRowBytes
    while (this.rowsLeft > 0 && pos <= limit) {
      this.rowsLeft--
      const column = Math.floor(rng.float() * songs)
      const rank = rng.float() < prob[column] ? column : alias[column]
      const day = Math.floor(rng.float() * days)
      const plays = drawPlays(rng)
      // Some writers quote every text field: about 1 row in 128 quotes a name that needs no quoting.
      const quoteAnyway = quoted[rank] === 0 && (rng.next() & 127) === 0
      if (badRowRate > 0 && this.badRng.float() < badRowRate) {
        this.badRows++
        pos = this.writeBadRow(buf, pos, rank, day, plays)
        continue
      }
      if (quoteAnyway) buf[pos++] = QUOTE
      for (let i = offsets[rank], end = offsets[rank + 1]; i < end; i++) buf[pos++] = pool[i]
      if (quoteAnyway) buf[pos++] = QUOTE
      buf[pos++] = COMMA
      for (let i = day * 10, end = i + 10; i < end; i++) buf[pos++] = dates[i]
      buf[pos++] = COMMA
      pos = writeUint(buf, pos, plays)
      buf[pos++] = LF
    }
    return pos
  }

  private writeBadRow(buf: Uint8Array, pos: number, rank: number, day: number, plays: number) {
    const r = this.badRng
    const kind = r.next() % BAD_KINDS
    if (kind === 4) {
      pos = writeBytes(buf, pos, pick(r, EMPTY_SONG_BYTES))
    } else {
      const { pool, offsets } = this.names
      for (let i = offsets[rank], end = offsets[rank + 1]; i < end; i++) buf[pos++] = pool[i]
    }
    buf[pos++] = COMMA
    if (kind === 0) pos = writeBytes(buf, pos, pick(r, BAD_CALENDAR_DATE_BYTES))
    else if (kind === 1) pos = writeBytes(buf, pos, pick(r, BAD_DATE_FORMAT_BYTES))
    else for (let i = day * 10, end = i + 10; i < end; i++) buf[pos++] = this.dates[i]
    if (kind === 5) {
      // Too few fields: the row stops after the date.
      buf[pos++] = LF
      return pos
    }
    buf[pos++] = COMMA
    if (kind === 2) {
      buf[pos++] = MINUS
      pos = writeUint(buf, pos, plays + 1)
    } else if (kind === 3) {
      if (r.next() & 1) {
        pos = writeUint(buf, pos, plays)
        pos = writeBytes(buf, pos, DECIMAL_TAIL)
      } else {
        pos = writeBytes(buf, pos, pick(r, BAD_NUMBER_BYTES))
      }
    } else {
      pos = writeUint(buf, pos, plays)
    }
    if (kind === 6) pos = writeBytes(buf, pos, pick(r, EXTRA_FIELD_BYTES))
    buf[pos++] = LF
    return pos
  }
}

const LN_1001 = Math.log(1001)

/** Mostly 1..1000, small numbers likelier (log-uniform); 0.2 % zeros; 1 in 10,000 up to 10^9. */
function drawPlays(rng: Xoshiro128): number {
  const u = rng.float()
  if (u < 0.0001) return 100_000 + Math.floor(rng.float() * 999_900_000)
  if (u < 0.0021) return 0
  return Math.floor(Math.exp(rng.float() * LN_1001))
}

function pick<T>(rng: Xoshiro128, values: readonly T[]): T {
  return values[rng.next() % values.length]
}

function writeBytes(buf: Uint8Array, pos: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) buf[pos++] = bytes[i]
  return pos
}

function writeUint(buf: Uint8Array, pos: number, value: number): number {
  let digits = 1
  for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++
  let at = pos + digits
  for (let v = value; at > pos; v = Math.floor(v / 10)) buf[--at] = 0x30 + (v % 10)
  return pos + digits
}

interface NamePool {
  /** Song fields, ready to copy, in popularity-rank order. */
  pool: Uint8Array
  /** `offsets[rank]..offsets[rank + 1]` is the field of the song of that rank. */
  offsets: Int32Array
  /** 1 when the field is quoted already. */
  quoted: Uint8Array
  maxFieldBytes: number
}

/** Ranks map to song ids through `id = (rank * multiplier + offset) mod songs`, a bijection. */
function buildNamePool(songs: number, seed: number): NamePool {
  const multiplier = songs % 1_000_003 === 0 ? 999_983 : 1_000_003
  const offset = fmix32(seed ^ 0x2545f491) % songs
  const offsets = new Int32Array(songs + 1)
  const quoted = new Uint8Array(songs)
  let pool = new Uint8Array(Math.max(1024, songs * 32))
  let used = 0
  let maxFieldBytes = 0
  for (let rank = 0; rank < songs; rank++) {
    const id = (rank * multiplier + offset) % songs
    const field = csvField(songName(id))
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (used + field.text.length * 3 > pool.length) {
      const grown = new Uint8Array(pool.length * 2 + field.text.length * 3)
      grown.set(pool.subarray(0, used))
      pool = grown
    }
    const n = encoder.encodeInto(field.text, pool.subarray(used)).written
    used += n
    offsets[rank + 1] = used
    quoted[rank] = field.quoted ? 1 : 0
    if (n > maxFieldBytes) maxFieldBytes = n
  }
  return { pool: pool.subarray(0, used), offsets, quoted, maxFieldBytes }
}

function buildDates(days: number): Uint8Array {
  const dates = new Uint8Array(days * 10)
  const first = Date.parse(`${FIRST_DAY}T00:00:00Z`)
  for (let day = 0; day < days; day++) {
    const text = new Date(first + day * 86_400_000).toISOString().slice(0, 10)
    dates.set(encoder.encode(text), day * 10)
  }
  return dates
}

interface AliasTable {
  prob: Float64Array
  alias: Int32Array
}

/** Walker's alias method (Vose's construction): O(1) draws from weights 1 / (rank + 1)^s. */
function buildZipfAlias(n: number, exponent: number): AliasTable {
  const scaled = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) {
    scaled[i] = 1 / (i + 1) ** exponent
    sum += scaled[i]
  }
  const small = new Int32Array(n)
  const large = new Int32Array(n)
  let smallCount = 0
  let largeCount = 0
  for (let i = 0; i < n; i++) {
    scaled[i] = (scaled[i] * n) / sum
    if (scaled[i] < 1) small[smallCount++] = i
    else large[largeCount++] = i
  }
  const prob = new Float64Array(n)
  const alias = new Int32Array(n)
  while (smallCount > 0 && largeCount > 0) {
    const less = small[--smallCount]
    const more = large[largeCount - 1]
    prob[less] = scaled[less]
    alias[less] = more
    scaled[more] = scaled[more] + scaled[less] - 1
    if (scaled[more] < 1) {
      largeCount--
      small[smallCount++] = more
    }
  }
  // Whatever is left is 1 up to rounding error.
  while (largeCount > 0) prob[large[--largeCount]] = 1
  while (smallCount > 0) prob[small[--smallCount]] = 1
  return { prob, alias }
}

// ---------------------------------------------------------------------------------------------
// Randomness

/** MurmurHash3's 32-bit finaliser: a cheap bijective mix. */
function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** xoshiro128** (Blackman and Vigna): small, fast, and good enough for test data. */
class Xoshiro128 {
  private a: number
  private b: number
  private c: number
  private d: number

  /** Seeds the state with splitmix32 from the 53-bit seed and a stream number. */
  constructor(seed: number, stream: number) {
    let x = (seed >>> 0) ^ fmix32(Math.floor(seed / 2 ** 32) + stream * 0x9e3779b9)
    const next = () => {
      x = (x + 0x9e3779b9) | 0
      return fmix32(x)
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
  }

  /** A uniform unsigned 32-bit integer. */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return result
  }

  /** A uniform number in [0, 1). */
  float(): number {
    return this.next() / 4_294_967_296
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
