/**
 * The gate every upload passes on its way to storage: counts bytes, refuses more than the
 * limit (`UPLOAD_TOO_LARGE`), and shows the first bytes to the header inspector, whose refusal
 * stops the upload at once. Storage receives the bytes unchanged (gzip stays gzip: the engine
 * recognises it).
 */
import { Transform, type TransformCallback } from 'node:stream'
import { HttpError } from '../errors/api-errors.js'
import type { HeaderInspector } from './header-inspector.js'

export class UploadGate extends Transform {
  bytes = 0

  constructor(
    private readonly maxBytes: number,
    private readonly inspector: HeaderInspector | undefined,
  ) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length
    if (this.bytes > this.maxBytes) {
      callback(tooLarge(this.maxBytes))
      return
    }
    const inspector = this.inspector
    if (!inspector || inspector.settled) {
      callback(null, chunk)
      return
    }
    inspector.push(chunk).then(
      () => callback(null, chunk),
      (error: unknown) => callback(error as Error),
    )
  }

  override _flush(callback: TransformCallback): void {
    if (!this.inspector) {
      callback()
      return
    }
    this.inspector.end().then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    )
  }
}

export function tooLarge(maxBytes: number, announced?: number): HttpError {
  const size = announced === undefined ? '' : ` (${announced} bytes announced)`
  return new HttpError(
    'UPLOAD_TOO_LARGE',
    `the upload is larger than the limit of ${maxBytes} bytes${size}`,
    { headers: { connection: 'close' } },
  )
}
