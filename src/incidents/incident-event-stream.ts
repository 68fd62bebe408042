import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { Observable, Subject } from 'rxjs';
import { DomainError, ErrorCode } from '../common/domain-error';
import { IncidentEvent, IncidentEventName } from './domain/events';

/**
 * The committed incident events as one hot stream, for live subscribers (gRPC
 * StreamIncidents). Subscribers see events from the moment they subscribe; each unsubscribes
 * when its client goes, and nothing of it stays behind.
 */
@Injectable()
export class IncidentEventStream implements OnModuleDestroy {
  private readonly subject = new Subject<IncidentEvent>();
  private readonly forward = (event: IncidentEvent) => this.subject.next(event);
  private subscribers = 0;

  constructor(private readonly emitter: EventEmitter2) {
    for (const name of Object.values(IncidentEventName)) this.emitter.on(name, this.forward);
  }

  events(): Observable<IncidentEvent> {
    return new Observable<IncidentEvent>((subscriber) => {
      this.subscribers += 1;
      const subscription = this.subject.subscribe(subscriber);
      return () => {
        this.subscribers -= 1;
        subscription.unsubscribe();
      };
    });
  }

  /** Live subscriptions now (visible in tests: a client that disconnects leaves none). */
  subscriberCount(): number {
    return this.subscribers;
  }

  onModuleDestroy(): void {
    for (const name of Object.values(IncidentEventName)) this.emitter.off(name, this.forward);
    // Not a normal end: subscribers are told to reconnect (gRPC UNAVAILABLE).
    this.subject.error(new DomainError(ErrorCode.SHUTTING_DOWN, 'the server is shutting down; reconnect to another instance or later'));
  }
}
