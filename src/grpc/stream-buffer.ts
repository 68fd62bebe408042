import { Observable, ReplaySubject, Subject } from 'rxjs';
import { ServerGrpc } from '@nestjs/microservices';

/**
 * What @nestjs/microservices 11.2.6 holds for a client-streaming call until its handler runs
 * (ServerGrpc.bufferUntilDrained): the messages that arrive while the guards and interceptors
 * are still at work are kept, then replayed to the handler. Nest's own version drops that buffer
 * when the client half-closes before the handler runs: a stream written and ended while its key
 * was still being looked up (a key not yet cached, on PostgreSQL) lost its messages and never
 * ended, and a refusal arriving after that threw a TypeError on the dropped buffer, outside any
 * handler. This one keeps the buffer until it has been replayed; it is collected with the call.
 */
export function bufferUntilDrained<T>(): {
  subject: Subject<T>;
  next: (value: T) => void;
  error: (err: unknown) => void;
  complete: () => void;
  cleanup: () => void;
} {
  const subject = new Subject<T>();
  let replayBuffer: ReplaySubject<T> | null = new ReplaySubject<T>();
  let hasDrained = false;
  // Nest's @GrpcStreamMethod wrapper calls this, by name, once the guards and interceptors let the call through.
  function drainBuffer(): void {
    if (hasDrained || !replayBuffer) return;
    hasDrained = true;
    setImmediate(() => {
      replayBuffer?.subscribe(subject).unsubscribe();
      replayBuffer = null;
    });
  }
  return {
    subject: new Proxy(subject, {
      get(target, prop, receiver) {
        if (prop === 'asObservable') {
          return (): Observable<T> => {
            const stream = subject.asObservable();
            Object.defineProperty(stream, drainBuffer.name, { value: drainBuffer });
            return stream;
          };
        }
        return Reflect.get(hasDrained || !replayBuffer ? target : replayBuffer, prop, receiver) as unknown;
      },
    }),
    // Until the buffer has been replayed, everything goes into it, in order: a message or the
    // half-close that arrives between drainBuffer and its replay (one turn of the event loop)
    // would otherwise overtake the buffered ones, and a half-close there completed the handler's
    // subject before the buffered messages reached it (a CI run lost one that way).
    next: (value) => {
      if (replayBuffer) replayBuffer.next(value);
      else subject.next(value);
    },
    error: (err) => {
      if (replayBuffer) replayBuffer.error(err);
      else subject.error(err);
    },
    complete: () => {
      // The subject completes when the buffer is replayed into it.
      if (replayBuffer) replayBuffer.complete();
      else subject.complete();
    },
    cleanup: () => undefined,
  };
}

/** Nest's gRPC server with the buffer above in place of its own. */
export function grpcServerWithStreamBuffer(options: ConstructorParameters<typeof ServerGrpc>[0]): ServerGrpc {
  const server = new ServerGrpc(options);
  (server as unknown as { bufferUntilDrained: typeof bufferUntilDrained }).bufferUntilDrained = bufferUntilDrained;
  return server;
}
