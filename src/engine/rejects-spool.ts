/**
 * Rejected rows of one byte range, kept in a compact binary file until the line numbers of the
 * ranges before it are known; then copied into the rejects CSV in line order.
 *
 * Record: f64 line, u8 code index, u32 column length (0xffffffff for none), column bytes,
 * u32 reason length, reason bytes, u32 raw length, raw bytes. Little-endian.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import type { RejectedRow } from './aggregator.js'
import { textDecoder, textEncoder } from './bytes.js'
import { ROW_ERROR_CODES } from './errors.js'
import { FileReader } from './file-reader.js'
import { ByteWriter } from './output.js'

const NO_COLUMN = 0xffffffff

export class RejectSpoolWriter {
  private readonly fd: number
  private readonly out: ByteWriter
  private readonly header = new DataView(new ArrayBuffer(13))
  count = 0

  constructor(path: string) {
    this.fd = openSync(path, 'w')
    this.out = new ByteWriter((chunk) => {
      let at = 0
      while (at < chunk.length) at += writeSync(this.fd, chunk, at, chunk.length - at)
    }, 256 * 1024)
  }

  readonly write = (row: RejectedRow): void => {
    const column = row.column === undefined ? undefined : textEncoder.encode(row.column)
    const reason = textEncoder.encode(row.reason)
    this.header.setFloat64(0, row.line, true)
    this.header.setUint8(8, ROW_ERROR_CODES.indexOf(row.code))
    this.header.setUint32(9, column === undefined ? NO_COLUMN : column.length, true)
    this.out.write(new Uint8Array(this.header.buffer))
    if (column) this.out.write(column)
    this.writeBytes(reason)
    this.writeBytes(row.raw)
    this.count++
  }

  close(): void {
    this.out.flush()
    closeSync(this.fd)
  }

  private writeBytes(bytes: Uint8Array): void {
    const length = new DataView(new ArrayBuffer(4))
    length.setUint32(0, bytes.length, true)
    this.out.write(new Uint8Array(length.buffer))
    this.out.write(bytes)
  }
}

/** A spool file, or the bytes `[start, end)` of a file holding one. */
export interface SpoolSource {
  path: string
  start?: number
  end?: number
}

/** Calls `onRow` for each spooled row, in the order written. */
export function readRejectSpool(source: SpoolSource, onRow: (row: RejectedRow) => void): void {
  const reader = new FileReader(source.path, 256 * 1024, source.start, source.end)
  try {
    for (;;) {
      const head = reader.read(13)
      if (head === undefined) break
      const view = new DataView(head.buffer, head.byteOffset, 13)
      const line = view.getFloat64(0, true)
      const code = ROW_ERROR_CODES[view.getUint8(8)]!
      const columnLength = view.getUint32(9, true)
      const column =
        columnLength === NO_COLUMN ? undefined : textDecoder.decode(reader.read(columnLength)!)
      const reason = textDecoder.decode(readBytes(reader))
      const raw = readBytes(reader).slice()
      onRow({ line, code, column, reason, raw })
    }
  } finally {
    reader.close()
  }
}

function readBytes(reader: FileReader): Uint8Array {
  const head = reader.read(4)!
  const length = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true)
  return reader.read(length)!
}
