/** Small schema helpers and the shapes every route shares (problem documents, path ids). */
import { type TSchema, Type } from '@fastify/type-provider-typebox'

/** `T` or JSON `null`. */
export function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()])
}

/**
 * RFC 9457 problem details. Extension members (`code`, `line`, `column`, `job`, ...) vary by
 * error, so any further member is allowed and kept.
 */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI naming the error kind: urn:tally:error:<code>' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable error code; see the README for the list' }),
    line: Type.Optional(Type.Integer({ description: 'CSV line that caused the error' })),
    column: Type.Optional(Type.String({ description: 'CSV column that caused the error' })),
  },
  { additionalProperties: true, description: 'application/problem+json (RFC 9457)' },
)

/** Job ids are checked by the route (a malformed one is a plain 404), not by the schema. */
export const JobIdParamsSchema = Type.Object({
  job_id: Type.String({ maxLength: 200, description: 'A job id: job_ and 24 base32 characters' }),
})

/** Error answers documented per route: `problems(404, 409)`, as `application/problem+json`. */
export function problems(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: 'Problem details (RFC 9457)',
        content: { 'application/problem+json': { schema: ProblemSchema } },
      },
    ]),
  )
}

/** A non-JSON answer (a CSV file, plain text, an event stream), for the OpenAPI document. */
export function textResponse(description: string, ...mediaTypes: string[]) {
  return {
    description,
    content: Object.fromEntries(mediaTypes.map((type) => [type, { schema: Type.String() }])),
  }
}
