/**
 * The BullMQ backend on a real redis-server: the JobBackend contract, then what only a
 * distributed backend has to get right.
 */
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { createBullmqJobBackend } from '../../src/jobs/bullmq/index.js'
import { describeJobBackendContract } from '../contracts/job-backend.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'

let redis: RedisServer

beforeAll(async () => {
  redis = await startRedisServer()
})

afterAll(async () => {
  await redis?.stop()
})

describeJobBackendContract('bullmq (Redis)', async (settings) => {
  const prefix = `test-${randomUUID()}`
  return {
    backend: createBullmqJobBackend({ redisUrl: redis.url, prefix, ...settings }),
    cleanup: () => deleteKeys(redis.url, prefix),
  }
})

/** Removes every key a test wrote under its prefix. */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
      if (keys.length > 0) await client.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    client.disconnect()
  }
}
