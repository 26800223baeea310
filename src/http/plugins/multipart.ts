/**
 * `@fastify/multipart` with limits: one file per request, a few small option fields. Files are
 * streams read by the routes (never buffered). The file size limit is one byte over the upload
 * limit so that our own gate, not busboy's silent truncation, sees the excess and answers 413.
 */
import multipart from '@fastify/multipart'
import type { HttpApp } from '../types.js'
import { globalPlugin } from './global-plugin.js'

export interface MultipartOptions {
  maxUploadBytes: number
}

const MAX_FIELD_BYTES = 64 * 1024

export const multipartPlugin = globalPlugin(
  'tally-multipart',
  async (app: HttpApp, { maxUploadBytes }: MultipartOptions) => {
    await app.register(multipart, {
      limits: {
        fileSize: maxUploadBytes + 1,
        files: 1,
        fields: 20,
        fieldSize: MAX_FIELD_BYTES,
        parts: 21,
        headerPairs: 100,
      },
    })
  },
)
