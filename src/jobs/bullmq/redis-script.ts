import type { Redis } from 'ioredis'

/**
 * A Lua script, sent whole with EVAL on every call. EVALSHA with an EVAL fallback on NOSCRIPT
 * (the usual trick) sends the fallback only after the failed reply, behind commands issued
 * meanwhile on the connection: a progress write followed by a read would then read the old
 * record. With EVAL the order on the connection is the order of the calls. The scripts are
 * small and Redis caches their compiled form, so the cost is a few hundred bytes per call.
 */
export class RedisScript {
  constructor(
    readonly name: string,
    private readonly source: string,
  ) {}

  run(
    client: Redis,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    return client.eval(this.source, keys.length, ...keys, ...args.map(String))
  }
}
