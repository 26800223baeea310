import { statfs } from 'node:fs/promises'

/**
 * Bytes an unprivileged process can still write on the filesystem holding `path` (`f_bavail`,
 * not `f_bfree`: the blocks reserved for root are not ours). The HTTP layer compares it with an
 * upload's announced size, plus a margin, to answer 507 before accepting the bytes.
 */
export async function freeDiskBytes(path: string): Promise<number> {
  const info = await statfs(path)
  return info.bavail * info.bsize
}
