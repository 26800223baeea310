/**
 * Rows handed between parse threads, so that each group is added by the one thread owning its
 * partition (partition p belongs to thread p mod threads): no two threads hold the same group,
 * and as groups are partitioned by their text values (see `Aggregator.groupHash`), no two
 * threads hold the same song either. Memory then holds each group once, and the merge has next
 * to nothing to fold.
 *
 * A thread that parses a plain row of a partition it does not own writes the row's group values
 * into a batch for the owner: the group hash, per group column its date code or its text's
 * value hash and bytes, the count and the row's offset. Batches sit in a ring of slots in shared
 * memory, one ring per direction, with shared counters of batches sent and taken: the owner
 * takes them between its own reads (its parse loop never yields to the event loop, so messages
 * would not do). A sender never waits inside a row: when the ring is full, the row is added
 * where it was read (the merge folds such groups); between reads, a sender far ahead waits for
 * the owner, taking the batches sent to it meanwhile.
 */
import type { ForeignRowSink, ForeignRows } from '../aggregator.js'

const SLOTS = 8
/** Rows of a slot: as many as fit in the rings' share of memory, within these bounds. */
const MAX_SLOT_ROWS = 8192
const MIN_SLOT_ROWS = 64
/** Shared memory for all the rings of one aggregation: there are threads x (threads - 1). */
const RINGS_BYTES = 64 << 20
/** Text bytes a slot has room for, per row (a row with more text is kept by its reader). */
const TEXT_BYTES_PER_ROW = 32
/** Control words of a ring. */
const SENT = 0
const TAKEN = 1
const ENDED = 2

/** One direction between two threads: shared memory only, so it crosses threads as is. */
export interface ExchangeRing {
  slotRows: number
  slotBytes: number
  /** [batches sent, batches taken, sender ended]. */
  control: Int32Array
  /** Per slot: its row count. */
  rows: Int32Array
  /** Per row: the group hash, then per group column a date code, or [value hash, start, end]. */
  ints: Int32Array
  /** Per row: the count, then the row's offset in the input. */
  numbers: Float64Array
  /** Per slot, the text values back to back. */
  bytes: Uint8Array
}

/** The rings of one parse thread: to every other thread, and from every other thread. */
export interface ExchangeRings {
  /** Indexed by thread; undefined at this thread's own index. */
  to: (ExchangeRing | undefined)[]
  from: ExchangeRing[]
}

/** Ints per row for a layout: the hash, then 1 per date column and 3 per text column. */
function rowInts(isDate: readonly boolean[]): number {
  return isDate.reduce((n, date) => n + (date ? 1 : 3), 1)
}

/** Rings between every pair of `n` threads: thread i's `to[j]` is thread j's `from` ring. */
export function exchangeRings(n: number, isDate: readonly boolean[]): ExchangeRings[] {
  const stride = rowInts(isDate)
  const rowBytes = stride * 4 + 2 * 8 + TEXT_BYTES_PER_ROW
  const fitting = Math.floor(RINGS_BYTES / (n * (n - 1) * SLOTS * rowBytes))
  const slotRows = Math.max(MIN_SLOT_ROWS, Math.min(MAX_SLOT_ROWS, fitting))
  const slotBytes = slotRows * TEXT_BYTES_PER_ROW
  const rings: ExchangeRings[] = Array.from({ length: n }, () => ({
    to: Array.from({ length: n }, () => undefined),
    from: [],
  }))
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue
      const ring: ExchangeRing = {
        slotRows,
        slotBytes,
        control: new Int32Array(new SharedArrayBuffer(3 * 4)),
        rows: new Int32Array(new SharedArrayBuffer(SLOTS * 4)),
        ints: new Int32Array(new SharedArrayBuffer(SLOTS * slotRows * stride * 4)),
        numbers: new Float64Array(new SharedArrayBuffer(SLOTS * slotRows * 2 * 8)),
        bytes: new Uint8Array(new SharedArrayBuffer(SLOTS * slotBytes)),
      }
      rings[i]!.to[j] = ring
      rings[j]!.from.push(ring)
    }
  }
  return rings
}

/** Writes rows for one other thread into its ring. */
class RingWriter implements ForeignRowSink {
  /** Rows and text bytes in the slot being filled. */
  private rows = 0
  private used = 0
  /** Batches sent (only this writer changes the ring's count). */
  private sent = 0
  private ended = false
  private readonly stride: number

  constructor(
    private readonly ring: ExchangeRing,
    private readonly isDate: Uint8Array,
  ) {
    this.stride = rowInts([...isDate].map((d) => d === 1))
  }

  /** Batches sent that the owner has not taken yet. */
  get inFlight(): number {
    return this.sent - Atomics.load(this.ring.control, TAKEN)
  }

  /**
   * Adds a row: `key` holds its date codes, `starts`/`ends`/`hashes` its text values in `buf`.
   * False when the ring is full, or a text value is not plain ASCII without NUL (its text still
   * needs the UTF-8 check that may reject the row): the row is then added where it was read.
   */
  add(
    hash: number,
    key: Int32Array,
    buf: Uint8Array,
    starts: Int32Array,
    ends: Int32Array,
    hashes: Int32Array,
    value: number,
    offset: number,
  ): boolean {
    const isDate = this.isDate
    let textBytes = 0
    for (let k = 0; k < isDate.length; k++) if (isDate[k] === 0) textBytes += ends[k]! - starts[k]!
    const ring = this.ring
    if (textBytes > ring.slotBytes) return false
    if (this.rows === ring.slotRows || this.used + textBytes > ring.slotBytes) this.flush()
    if (this.rows === 0 && this.inFlight === SLOTS) return false
    const slot = this.sent % SLOTS
    const ints = ring.ints
    const bytes = ring.bytes
    let at = (slot * ring.slotRows + this.rows) * this.stride
    const bytesBase = slot * ring.slotBytes
    let used = this.used
    ints[at++] = hash
    for (let k = 0; k < isDate.length; k++) {
      if (isDate[k] === 1) {
        ints[at++] = key[k]!
        continue
      }
      ints[at++] = hashes[k]!
      ints[at++] = bytesBase + used
      for (let i = starts[k]!; i < ends[k]!; i++) {
        const c = buf[i]!
        if (c === 0 || c >= 0x80) return false
        bytes[bytesBase + used++] = c
      }
      ints[at++] = bytesBase + used
    }
    this.used = used
    const row = slot * ring.slotRows + this.rows
    ring.numbers[row * 2] = value
    ring.numbers[row * 2 + 1] = offset
    this.rows++
    return true
  }

  /** Hands the slot being filled to the owner. */
  flush(): void {
    if (this.rows === 0) return
    this.ring.rows[this.sent % SLOTS] = this.rows
    Atomics.store(this.ring.control, SENT, ++this.sent)
    this.rows = 0
    this.used = 0
  }

  /** Sends what is left, then says this thread is done, once. */
  end(): void {
    if (this.ended) return
    this.ended = true
    this.flush()
    Atomics.store(this.ring.control, ENDED, 1)
  }
}

/** One parse thread's side of the exchange. */
export class RowExchange {
  /** Per partition: the writer to the thread owning it, undefined for this thread's own. */
  readonly foreign: (ForeignRowSink | undefined)[]
  private readonly writers: RingWriter[]
  private readonly open: ExchangeRing[]
  private readonly stride: number
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4))

  constructor(rings: ExchangeRings, partitions: number, isDate: Uint8Array) {
    const byThread = rings.to.map((ring) => ring && new RingWriter(ring, isDate))
    this.foreign = Array.from({ length: partitions }, (_, p) => byThread[p % byThread.length])
    this.writers = byThread.filter((w) => w !== undefined)
    this.open = [...rings.from]
    this.stride = rowInts([...isDate].map((d) => d === 1))
  }

  /**
   * Between reads: sends the slots being filled, takes the batches waiting now; while an owner
   * lags behind this thread, waits for it, taking batches meanwhile (it may be waiting too).
   */
  step(take: (rows: ForeignRows) => void): void {
    for (const writer of this.writers) writer.flush()
    this.drain(take)
    while (this.writers.some((w) => w.inFlight > SLOTS / 2)) {
      Atomics.wait(this.sleeper, 0, 0, 1)
      this.drain(take)
    }
  }

  /** This thread's rows are all read: sends the rest and tells the others, once. */
  end(): void {
    for (const writer of this.writers) writer.end()
  }

  /** Ends this thread's side, then takes batches until every other thread has ended. */
  finish(take: (rows: ForeignRows) => void): void {
    this.end()
    for (;;) {
      this.drain(take)
      if (this.open.length === 0) return
      Atomics.wait(this.sleeper, 0, 0, 1)
    }
  }

  /** After a failure: lets the other threads finish (their batches are taken and dropped). */
  abandon(): void {
    this.finish(() => {})
  }

  private drain(take: (rows: ForeignRows) => void): void {
    for (let i = 0; i < this.open.length; ) {
      const ring = this.open[i]!
      const control = ring.control
      // Read before `sent`: once the sender has ended, `sent` is final.
      const ended = Atomics.load(control, ENDED) === 1
      const sent = Atomics.load(control, SENT)
      for (let taken = Atomics.load(control, TAKEN); taken < sent; taken++) {
        const slot = taken % SLOTS
        take({
          rows: ring.rows[slot]!,
          ints: ring.ints.subarray(slot * ring.slotRows * this.stride),
          numbers: ring.numbers.subarray(slot * ring.slotRows * 2),
          bytes: ring.bytes,
        })
        Atomics.store(control, TAKEN, taken + 1)
      }
      if (ended) this.open.splice(i, 1)
      else i++
    }
  }
}
