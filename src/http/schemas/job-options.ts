/** Job options as an upload carries them: query parameters of a raw upload, or form fields. */
import { type Static, Type } from '@fastify/type-provider-typebox'
import { BOOLEAN_TEXTS, ON_ERRORS, ORDERS } from '../../engine/index.js'

export const jobOptionFields = {
  order: Type.Optional(
    Type.Enum([...ORDERS], { description: 'Row order: first_seen (default) or sorted' }),
  ),
  on_error: Type.Optional(
    Type.Enum([...ON_ERRORS], { description: 'Bad rows: skip (default) or fail' }),
  ),
  group_by: Type.Optional(
    Type.String({ maxLength: 4096, description: 'Comma-separated columns (default Song,Date)' }),
  ),
  sum: Type.Optional(
    Type.String({
      maxLength: 1024,
      description: 'Integer column to sum (default Number of Plays)',
    }),
  ),
  escape_formulas: Type.Optional(
    Type.Enum([...BOOLEAN_TEXTS], {
      description:
        'true: text values starting with =, +, -, @, tab or CR are written as text ("\'=1+1"), against CSV formula injection in spreadsheets; false (default)',
    }),
  ),
}

/** Query of `POST /jobs` with a raw body. */
export const RawUploadQuerySchema = Type.Object({
  ...jobOptionFields,
  file_name: Type.Optional(
    Type.String({ maxLength: 255, description: 'Name of the uploaded file (default upload.csv)' }),
  ),
})
export type RawUploadQuery = Static<typeof RawUploadQuerySchema>

/** The multipart form of `POST /jobs`, for the OpenAPI document (the route reads it as a stream). */
export const MultipartUploadSchema = Type.Object({
  file: Type.String({ format: 'binary', description: 'The CSV file (plain or gzip)' }),
  ...jobOptionFields,
})
