import { Worker } from 'node:worker_threads';

/**
 * Runs SQLite's WAL checkpoints on a connection of its own in a worker thread. A checkpoint
 * copies the WAL into the database file and fsyncs it; done by the main connection it stalls
 * the event loop (and every request) for the length of an fsync, every 1,000 pages. PASSIVE
 * checkpoints never block writers, so ingestion goes on while the worker syncs. Once the WAL
 * passes `maxWalBytes` and a PASSIVE checkpoint has copied all of it, a RESTART checkpoint (a
 * moment's hold on the write lock) lets the next write start the WAL over; journal_size_limit
 * then trims the file. Under writes so steady that PASSIVE never catches up, the WAL is
 * restarted anyway at four times the limit, at the cost of one pause for writers.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
function walBytes() {
  try { return statSync(workerData.path + '-wal').size; } catch { return 0; }
}
const timer = setInterval(() => {
  try {
    const [progress] = db.pragma('wal_checkpoint(PASSIVE)');
    const size = walBytes();
    // RESTART once everything is copied (it then has nothing to copy or sync, and holds the
    // write lock only for a moment); past the hard limit, restart anyway.
    if ((size > workerData.maxWalBytes && progress.log === progress.checkpointed) || size > 4 * workerData.maxWalBytes) {
      db.pragma('wal_checkpoint(RESTART)');
    }
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
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
  constructor(path: string, onFailure: (error: string) => void, options: { intervalMs: number; maxWalBytes: number }) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver: require.resolve('better-sqlite3'), path, ...options },
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
