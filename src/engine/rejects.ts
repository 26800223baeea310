/**
 * The rejects file: one CSV row per rejected input row, in line order. With `escapeFormulas`,
 * the text columns (Column, Reason, Raw Row: the raw row is the user's text) are written with
 * formulas made text, as in the output (see output.ts).
 */

import type { RejectedRow } from './aggregator.js'
import { COMMA, LF, textEncoder } from './bytes.js'
import { type ByteSink, ByteWriter, writeCount, writeField } from './output.js'

export const REJECTS_HEADER = 'Line,Code,Column,Reason,Raw Row\n'

export class RejectsWriter {
  private readonly out: ByteWriter
  private readonly escapeFormulas: boolean
  count = 0

  constructor(sink: ByteSink, options: { escapeFormulas?: boolean } = {}) {
    this.out = new ByteWriter(sink, 64 * 1024)
    this.escapeFormulas = options.escapeFormulas === true
    this.out.write(textEncoder.encode(REJECTS_HEADER))
  }

  write(row: RejectedRow, lineOffset = 0): void {
    const out = this.out
    const line = row.line + lineOffset
    writeCount(out, line)
    out.writeByte(COMMA)
    out.write(textEncoder.encode(row.code))
    out.writeByte(COMMA)
    const column = textEncoder.encode(row.column ?? '')
    writeField(out, column, 0, column.length, this.escapeFormulas)
    out.writeByte(COMMA)
    const reason = textEncoder.encode(row.reason)
    writeField(out, reason, 0, reason.length, this.escapeFormulas)
    out.writeByte(COMMA)
    writeField(out, row.raw, 0, row.raw.length, this.escapeFormulas)
    out.writeByte(LF)
    this.count++
  }

  end(): void {
    this.out.flush()
  }
}
