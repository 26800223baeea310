/** Removes a test's keys (those under its queue prefix) from a shared test Redis. */
import { Redis } from 'ioredis'

export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url)
  try {
    const keys = await client.keys(`${prefix}:*`)
    if (keys.length > 0) await client.unlink(...keys)
  } finally {
    client.disconnect()
  }
}
