import { BeforeApplicationShutdown, Injectable, OnModuleDestroy } from '@nestjs/common';
import { Observable, ReplaySubject } from 'rxjs';

/**
 * Fires once when the application starts to close (the first shutdown hook), so long-lived
 * streams can end with a status that tells clients to reconnect, before the servers close.
 */
@Injectable()
export class ShutdownSignal implements OnModuleDestroy, BeforeApplicationShutdown {
  private readonly subject = new ReplaySubject<void>(1);
  readonly closing$: Observable<void> = this.subject.asObservable();
  private readonly held: Promise<unknown>[] = [];

  onModuleDestroy(): void {
    this.subject.next();
    this.subject.complete();
  }

  /** The servers close only once `work` has settled (clients being told to go, say). */
  holdUntil(work: Promise<unknown>): void {
    this.held.push(work.catch(() => undefined));
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.held);
  }
}
