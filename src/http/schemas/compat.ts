/** The JSON shapes of the earlier versions' routes (DESIGN.md section 5), one per shape. */
import { Type } from '@fastify/type-provider-typebox'

// Set A
export const StatusASchema = Type.Object({
  job_id: Type.String(),
  status: Type.Enum(['pending', 'processing', 'completed', 'failed']),
})
export const FileNameParamsSchema = Type.Object({
  file_name: Type.String({ maxLength: 255, description: 'Last part of output_file_path' }),
})

// Set B
export const TaskIdSchema = Type.Object({ task_id: Type.String() })
export const TaskIdParamsSchema = Type.Object({ task_id: Type.String({ maxLength: 200 }) })
export const StateBSchema = Type.Object({
  state: Type.Enum(['PENDING', 'STARTED', 'FAILURE']),
  message: Type.String(),
})

// Set C
export const ChunkAnswerSchema = Type.Object({
  message: Type.String({
    description: '"Chunk file uploaded successfully", or "File uploaded successfully" at the end',
  }),
  job_id: Type.Optional(Type.String({ description: 'Once the whole file is there' })),
})
export const FileStatusCSchema = Type.Object({
  job_status: Type.Enum(['PENDING', 'STARTED', 'SUCCESS', 'FAILURE']),
  jod_id: Type.String({ description: 'Misspelt in the earlier version; clients read it' }),
  job_id: Type.String(),
})
export const DropzoneFieldsDoc = Type.Object({
  file: Type.String({ format: 'binary' }),
  dzuuid: Type.String(),
  dzchunkbyteoffset: Type.Integer(),
  dzchunksize: Type.Integer(),
  dztotalfilesize: Type.Integer(),
  dzfilename: Type.Optional(Type.String()),
  dzchunkindex: Type.Optional(Type.Integer()),
  dztotalchunkcount: Type.Optional(Type.Integer()),
})

// Set D
export const CountJobDSchema = Type.Object({
  jobId: Type.String(),
  message: Type.Literal('file is being proccessed...'),
})

// Set E
export const StatusESchema = Type.Object({
  status: Type.Enum(['processing', 'failed']),
  message: Type.Optional(Type.String()),
})
