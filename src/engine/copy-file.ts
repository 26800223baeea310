/** Appends a whole file to an open one, in 1 MiB reads; returns the bytes copied. */
import { closeSync, openSync, readSync, writeSync } from 'node:fs'

export function copyFileInto(fd: number, source: string): number {
  const input = openSync(source, 'r')
  const chunk = new Uint8Array(1 << 20)
  let copied = 0
  try {
    for (let n = readSync(input, chunk); n > 0; n = readSync(input, chunk)) {
      let written = 0
      while (written < n) written += writeSync(fd, chunk, written, n - written)
      copied += n
    }
  } finally {
    closeSync(input)
  }
  return copied
}
