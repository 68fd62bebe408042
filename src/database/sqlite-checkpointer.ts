import { Worker } from 'node:worker_threads';

/**
 * Runs SQLite's WAL checkpoints on a connection of its own in a worker thread. A checkpoint
 * copies the WAL into the database file and fsyncs it; done by the main connection it stalls
 * the event loop (and every request) for the length of an fsync, every 1,000 pages. PASSIVE
 * checkpoints never block writers, so ingestion goes on while the worker syncs.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort.postMessage({ error: String(err && err.message || err) }); }
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
  db.close();
  parentPort.postMessage({ stopped: true });
});
`;

export class SqliteCheckpointer {
  private readonly worker: Worker;
  private stopped = false;

  /** `onFailure` is told when the worker cannot checkpoint, so the caller can take over. */
  constructor(path: string, onFailure: (error: string) => void, intervalMs = 500) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver: require.resolve('better-sqlite3'), path, intervalMs },
    });
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
      this.worker.once('message', () => {
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
