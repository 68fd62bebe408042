import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { Observable, ReplaySubject } from 'rxjs';

/**
 * Fires once when the application starts to close (the first shutdown hook), so long-lived
 * streams can end with a status that tells clients to reconnect, before the servers close.
 */
@Injectable()
export class ShutdownSignal implements OnModuleDestroy {
  private readonly subject = new ReplaySubject<void>(1);
  readonly closing$: Observable<void> = this.subject.asObservable();

  onModuleDestroy(): void {
    this.subject.next();
    this.subject.complete();
  }
}
