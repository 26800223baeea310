import { Redis } from 'ioredis'

/**
 * A client for `url` that does not connect yet. `maxRetriesPerRequest: null`: commands wait for
 * the connection to come back instead of failing after a few tries, which BullMQ requires of the
 * connections it duplicates for blocking reads, and which lets a job record write made during a
 * Redis restart land once Redis is back rather than lose the job's outcome.
 */
export function createRedisClient(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true })
}

/**
 * Connects if needed and waits until the client is ready. It keeps retrying in the meantime
 * (Redis may start after us, as in a compose file); past `timeoutMs` it gives up with the last
 * connection error in the message.
 */
export async function waitUntilReady(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return
  let lastError: Error | undefined
  const ready = new Promise<void>((resolve, reject) => {
    const onReady = () => {
      cleanup()
      resolve()
    }
    const onError = (error: Error) => {
      lastError = error
    }
    const timer = setTimeout(() => {
      cleanup()
      const detail = lastError ? `: ${lastError.message}` : ''
      reject(
        new Error(
          `cannot reach Redis at ${describeRedis(client)} within ${timeoutMs / 1000} s${detail}`,
        ),
      )
    }, timeoutMs)
    const cleanup = () => {
      clearTimeout(timer)
      client.off('ready', onReady)
      client.off('error', onError)
    }
    client.on('ready', onReady)
    client.on('error', onError)
  })
  // A lazy client's first attempt may fail; its retry strategy keeps trying after that.
  if (client.status === 'wait') client.connect().catch(() => {})
  await ready
}

/** host:port/db of a client, never its password: for messages and logs. */
export function describeRedis(client: Redis): string {
  const { host, port, db, path } = client.options
  return path ? `${path} (db ${db ?? 0})` : `${host}:${port} (db ${db ?? 0})`
}

/** What `untilReconnected` needs of a client: ioredis's, or BullMQ's wrapper of one. */
interface StatusClient {
  status: string
  once(event: 'ready', listener: () => void): unknown
  off?(event: 'ready', listener: () => void): unknown
  removeListener?(event: 'ready', listener: () => void): unknown
}

/**
 * Waits (at most `timeoutMs`) for a client that lost its connection to get it back. ioredis never
 * ends a connection told to disconnect while it waits to reconnect (the retry timer is cleared,
 * no event follows), and BullMQ's `close()` disconnects its blocking connections first: closing
 * a Worker or QueueEvents in that window would hang for ever.
 */
export async function untilReconnected(client: StatusClient, timeoutMs: number): Promise<void> {
  if (client.status !== 'reconnecting' && client.status !== 'connecting') return
  await new Promise<void>((resolve) => {
    const onReady = () => {
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      ;(client.off ?? client.removeListener)?.call(client, 'ready', onReady)
      resolve()
    }, timeoutMs)
    client.once('ready', onReady)
  })
}

/** How long `close()` waits on each connection when Redis does not answer. */
export const CLOSE_WAIT_MS = 2000

/** True when `promise` settled within `ms`; its failure is not the closer's concern. */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const settled = promise.then(
    () => true,
    () => true,
  )
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  const done = await Promise.race([settled, timeout])
  clearTimeout(timer)
  return done
}
