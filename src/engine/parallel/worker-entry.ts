/** The worker thread's entry: the thread runner on `parentPort`. */
import { parentPort } from 'node:worker_threads'
import type { FromWorker, ToWorker } from './protocol.js'
import { createThreadRunner } from './thread-runner.js'

const port = parentPort
if (port === null) throw new Error('worker-entry must run in a worker thread')
const handle = createThreadRunner((message: FromWorker) => port.postMessage(message))
port.on('message', (message: ToWorker) => handle(message))
