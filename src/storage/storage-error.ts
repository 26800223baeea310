import { ServiceError } from '../errors.js'

export type StorageErrorCode =
  | 'E_BLOB_NOT_FOUND'
  | 'E_INVALID_KEY'
  | 'E_INVALID_RANGE'
  | 'E_UNSUPPORTED'
  | 'E_STORAGE'

/** The only error type a BlobStore rejects with (besides a put's source and abort errors). */
export class StorageError extends ServiceError<StorageErrorCode> {
  override name = 'StorageError'
}

export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code)
}
