/** Shapes of the service routes: root, health, readiness. */
import { Type } from '@fastify/type-provider-typebox'

export const RootMessageSchema = Type.Object({
  message: Type.String({ description: 'Says the service runs and where to start' }),
})

export const HealthSchema = Type.Object({
  status: Type.Literal('ok'),
})

export const CheckSchema = Type.Enum(['ok', 'failed'])

export const ReadySchema = Type.Object({
  status: Type.Literal('ready'),
  checks: Type.Object({ jobs: CheckSchema, storage: CheckSchema }),
})
