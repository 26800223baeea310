/**
 * The rings parse threads hand rows over with (src/engine/parallel/row-exchange.ts), driven
 * here from one thread: what goes in comes out in order and exactly once, a full ring refuses
 * rows instead of waiting, text that is not plain ASCII stays with the reader, and `finish`
 * returns once every other side has ended.
 */
import { describe, expect, it } from 'vitest'
import type { ForeignRows } from '../../src/engine/aggregator.js'
import { exchangeRings, RowExchange } from '../../src/engine/parallel/row-exchange.js'

const PARTITIONS = 4
/** Song (text), Date: the default spec's group columns. */
const IS_DATE = Uint8Array.from([0, 1])

interface Row {
  hash: number
  song: string
  date: number
  value: number
  offset: number
}

/** Offers a row to `exchange` for `partition`; true when it was taken. */
function offer(exchange: RowExchange, partition: number, row: Row): boolean {
  const sink = exchange.foreign[partition]
  if (!sink) throw new Error(`partition ${partition} is this thread's own`)
  const buf = Buffer.from(`..${row.song}..`, 'latin1')
  const key = Int32Array.from([0, row.date])
  const starts = Int32Array.from([2, 0])
  const ends = Int32Array.from([2 + Buffer.byteLength(row.song, 'latin1'), 0])
  const hashes = Int32Array.from([row.hash ^ 0x55, 0])
  return sink.add(row.hash, key, buf, starts, ends, hashes, row.value, row.offset)
}

/** The rows of the batches handed to a `take` callback, decoded. */
function collector(): { take: (rows: ForeignRows) => void; rows: Row[]; batches: number } {
  const result = { rows: [] as Row[], batches: 0, take: (_: ForeignRows) => {} }
  result.take = (batch) => {
    result.batches++
    for (let r = 0; r < batch.rows; r++) {
      const at = r * 5
      const [hash, valueHash, start, end, date] = [
        batch.ints[at]!,
        batch.ints[at + 1]!,
        batch.ints[at + 2]!,
        batch.ints[at + 3]!,
        batch.ints[at + 4]!,
      ]
      expect(valueHash).toBe(hash ^ 0x55)
      result.rows.push({
        hash,
        song: Buffer.from(batch.bytes.subarray(start, end)).toString('latin1'),
        date,
        value: batch.numbers[r * 2]!,
        offset: batch.numbers[r * 2 + 1]!,
      })
    }
  }
  return result
}

const row = (i: number, song = `Song ${i}`): Row => ({
  hash: i * 7919,
  song,
  date: 2020 * 512 + 32 + (i % 28) + 1,
  value: i % 1000,
  offset: i * 31,
})

describe('row exchange between threads', () => {
  it('hands rows over in order, exactly once, in batches', () => {
    const rings = exchangeRings(2, [false, true])
    const zero = new RowExchange(rings[0]!, PARTITIONS, IS_DATE)
    const one = new RowExchange(rings[1]!, PARTITIONS, IS_DATE)
    // Partitions 1 and 3 belong to thread 1.
    expect(zero.foreign.map((s) => s !== undefined)).toEqual([false, true, false, true])
    const sent: Row[] = []
    const received = collector()
    for (let i = 0; i < 20_000; i++) {
      const r = row(i)
      expect(offer(zero, i % 2 === 0 ? 1 : 3, r)).toBe(true)
      sent.push(r)
      // Thread 1 takes what arrived now and then, as between its reads.
      if (i % 3000 === 0) one.step(received.take)
    }
    zero.step(() => {})
    one.step(received.take)
    expect(received.rows).toEqual(sent)
    expect(received.batches).toBeGreaterThan(1)
  })

  it('refuses rows when the ring is full, and takes them again once the owner caught up', () => {
    const rings = exchangeRings(2, [false, true])
    const zero = new RowExchange(rings[0]!, PARTITIONS, IS_DATE)
    const one = new RowExchange(rings[1]!, PARTITIONS, IS_DATE)
    let taken = 0
    let i = 0
    while (offer(zero, 1, row(i))) {
      taken++
      i++
      if (i > 1_000_000) throw new Error('the ring never filled')
    }
    // Full: further rows stay with the reader, until thread 1 takes the batches.
    expect(offer(zero, 1, row(i))).toBe(false)
    const received = collector()
    one.step(received.take)
    expect(offer(zero, 1, row(i))).toBe(true)
    zero.step(() => {})
    one.step(received.take)
    expect(received.rows.length).toBe(taken + 1)
    expect(received.rows.at(-1)).toEqual(row(i))
  })

  it('keeps text that is not plain ASCII with the reader', () => {
    const rings = exchangeRings(2, [false, true])
    const zero = new RowExchange(rings[0]!, PARTITIONS, IS_DATE)
    const one = new RowExchange(rings[1]!, PARTITIONS, IS_DATE)
    expect(offer(zero, 1, row(1, 'Caf\u00e9'))).toBe(false)
    expect(offer(zero, 1, row(2, 'Nul\u0000'))).toBe(false)
    expect(offer(zero, 1, row(3, 'Plain'))).toBe(true)
    zero.step(() => {})
    const received = collector()
    one.step(received.take)
    expect(received.rows.map((r) => r.song)).toEqual(['Plain'])
  })

  it('finishes once every other thread has ended, with everything sent taken', () => {
    const rings = exchangeRings(3, [false, true])
    const threads = rings.map((r) => new RowExchange(r, 6, IS_DATE))
    // Thread 0 sends to 1 (partition 1) and 2 (partition 2); threads 1 and 2 send nothing.
    for (let i = 0; i < 100; i++) {
      expect(offer(threads[0]!, 1, row(i))).toBe(true)
      expect(offer(threads[0]!, 2, row(i + 1000))).toBe(true)
    }
    const ones = collector()
    const twos = collector()
    const zeroReceived = collector()
    // One thread runs them all here, so each must have ended before another can finish.
    threads[1]!.end()
    threads[2]!.end()
    threads[0]!.finish(zeroReceived.take)
    threads[1]!.finish(ones.take)
    threads[2]!.finish(twos.take)
    expect(ones.rows.map((r) => r.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i * 31))
    expect(twos.rows.map((r) => r.offset)).toEqual(
      Array.from({ length: 100 }, (_, i) => (i + 1000) * 31),
    )
    expect(zeroReceived.rows).toEqual([])
  })

  it('keeps the rings of many threads within a bounded amount of shared memory', () => {
    const bytesOf = (threads: number) =>
      exchangeRings(threads, [false, true])
        .flatMap((r) => r.from)
        .reduce(
          (n, ring) =>
            n +
            ring.control.byteLength +
            ring.rows.byteLength +
            ring.ints.byteLength +
            ring.numbers.byteLength +
            ring.bytes.byteLength,
          0,
        )
    // Two threads get full-size slots; sixteen (240 rings) share about the same budget.
    expect(bytesOf(2)).toBeLessThan(16 << 20)
    expect(bytesOf(16)).toBeLessThan(80 << 20)
    const rings = exchangeRings(16, [false, true])
    const eight = new RowExchange(rings[8]!, 32, IS_DATE)
    const nine = new RowExchange(rings[9]!, 32, IS_DATE)
    // Partition 9 belongs to thread 9; thread 9 receives from 15 others, thread 8 is the 9th.
    // Smaller slots, still room for thousands of rows in flight (8 slots of 459 rows here).
    for (let i = 0; i < 3000; i++) expect(offer(eight, 9, row(i))).toBe(true)
    eight.end()
    const received = collector()
    nine.step(received.take)
    expect(received.rows).toEqual(Array.from({ length: 3000 }, (_, i) => row(i)))
  })
})
