/**
 * Download names derive from the upload's name: `plays.csv` -> `plays-totals.csv`,
 * `plays.csv.gz` -> `plays-totals.csv`, `report` -> `report-totals.csv`.
 */
export function downloadName(uploadName: string, suffix: string): string {
  const base = uploadName
    .replace(/^.*[\\/]/, '')
    .replace(/\.gz$/i, '')
    .replace(/\.(csv|txt|tsv)$/i, '')
  return `${base === '' ? 'upload' : base}-${suffix}.csv`
}

/**
 * `Content-Disposition: attachment` for any name (RFC 6266): an ASCII fallback in `filename`
 * and the exact name, percent-encoded, in `filename*`.
 */
export function attachment(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  const encoded = encodeURIComponent(fileName).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`
}
