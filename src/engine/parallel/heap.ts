/** A binary min-heap over an array, ordered by `less`: the merges' way to pick the next row. */

export function heapify<T>(heap: T[], less: (a: T, b: T) => boolean): void {
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i, less)
}

/** Restores the heap below `at` after the item there grew (or was replaced). */
export function siftDown<T>(heap: T[], at: number, less: (a: T, b: T) => boolean): void {
  const n = heap.length
  for (;;) {
    const left = 2 * at + 1
    if (left >= n) return
    const right = left + 1
    const child = right < n && less(heap[right]!, heap[left]!) ? right : left
    if (!less(heap[child]!, heap[at]!)) return
    const swap = heap[at]!
    heap[at] = heap[child]!
    heap[child] = swap
    at = child
  }
}
