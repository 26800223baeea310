/**
 * Marks a plugin as not encapsulated, so its hooks, decorators and error handler apply to the
 * whole app: what `fastify-plugin` does (Fastify's documented `skip-override` symbol), without
 * one more dependency for a few lines.
 */
import type { FastifyPluginAsync } from 'fastify'

export function globalPlugin<Options extends object>(
  name: string,
  plugin: FastifyPluginAsync<Options>,
): FastifyPluginAsync<Options> {
  const marked = plugin as FastifyPluginAsync<Options> & Record<symbol, unknown>
  marked[Symbol.for('skip-override')] = true
  marked[Symbol.for('fastify.display-name')] = name
  return marked
}
