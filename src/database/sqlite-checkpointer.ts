import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../common/worker-thread';
import type { CheckpointerData } from './sqlite-checkpointer.worker';

/**
 * Runs SQLite's WAL checkpoints on a connection of its own in a worker thread. A checkpoint
 * copies the WAL into the database file and fsyncs it; done by the main connection it stalls
 * the event loop (and every request) for the length of an fsync, every 1,000 pages. PASSIVE
 * checkpoints never block writers, so ingestion goes on while the worker syncs. Once the WAL
 * passes `maxWalBytes` and a PASSIVE checkpoint has copied all of it, a RESTART checkpoint (a
 * moment's hold on the write lock) lets the next write start the WAL over; journal_size_limit
 * then trims the file. Under writes so steady that PASSIVE never catches up, the WAL is
 * restarted anyway at four times the limit, at the cost of one pause for writers.
 * The thread's code is sqlite-checkpointer.worker.ts.
 */
export class SqliteCheckpointer {
  private readonly worker: Worker;
  private stopped = false;

  /** `onFailure` is told when the worker cannot checkpoint, so the caller can take over. */
  constructor(path: string, onFailure: (error: string) => void, options: { intervalMs: number; maxWalBytes: number }) {
    const workerData: CheckpointerData = { path, ...options };
    this.worker = startWorker(join(__dirname, 'sqlite-checkpointer.worker'), { workerData });
    this.worker.unref();
    this.worker.on('message', (message: { error?: string }) => {
      if (message.error) onFailure(message.error);
    });
    this.worker.on('error', (err) => {
      if (!this.stopped) onFailure(err.message);
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      this.worker.on('message', (message: { stopped?: boolean }) => {
        if (!message.stopped) return;
        clearTimeout(timer);
        resolve();
      });
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.worker.postMessage('stop');
    });
    await this.worker.terminate();
  }
}
