import { BeforeApplicationShutdown, Injectable, OnModuleDestroy } from '@nestjs/common';
import { Observable, ReplaySubject } from 'rxjs';

/**
 * Fires once when the application starts to close: on the shutdown signal itself, before Nest
 * runs any shutdown hook (listenTo), or at the latest with the module-destroy hooks (app.close()
 * without a signal, as in tests). Long-lived streams end with a status that tells clients to
 * reconnect, and HTTP starts turning requests away, before the servers close.
 */
@Injectable()
export class ShutdownSignal implements OnModuleDestroy, BeforeApplicationShutdown {
  private readonly subject = new ReplaySubject<void>(1);
  readonly closing$: Observable<void> = this.subject.asObservable();
  private readonly held: Promise<unknown>[] = [];
  private signals: string[] = [];
  private readonly onSignal = () => this.begin();

  /** Begins on these signals; listen before Nest does (enableShutdownHooks), so this runs first. */
  listenTo(signals: string[]): void {
    this.signals = signals;
    for (const signal of signals) process.on(signal, this.onSignal);
  }

  private begun = false;

  begin(): void {
    if (this.begun) return;
    this.begun = true;
    this.subject.next();
    this.subject.complete();
  }

  onModuleDestroy(): void {
    this.begin();
    for (const signal of this.signals) process.removeListener(signal, this.onSignal);
  }

  /** The servers close only once `work` has settled (clients being told to go, say). */
  holdUntil(work: Promise<unknown>): void {
    this.held.push(work.catch(() => undefined));
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.held);
  }
}
