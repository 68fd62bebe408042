import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { filter, Observable, Subject, tap } from 'rxjs';
import { DomainError, ErrorCode } from '../common/domain-error';
import { IncidentEvent, IncidentEventName } from './domain/events';

/** Events a live client (gRPC StreamIncidents, SSE /v1/incidents/events) may leave unread before it is cut off. */
export const MAX_UNREAD_EVENTS = 10_000;

/** What a live client asks for: events of incidents (after the change) in these states and of these severities. */
export interface LiveFilter {
  states?: readonly string[];
  severities?: readonly string[];
}

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

  /**
   * The events one client asked for. `backlogged` says whether its connection still holds
   * unwritten data: events for a client that stopped reading pile up in memory, so past
   * MAX_UNREAD_EVENTS in a row it is cut off with SLOW_CONSUMER rather than left to grow.
   */
  eventsFor(wanted: LiveFilter, backlogged: () => boolean): Observable<IncidentEvent> {
    let unread = 0;
    return this.events().pipe(
      filter(
        (event) =>
          (!wanted.states || wanted.states.includes(event.incident.state)) && (!wanted.severities || wanted.severities.includes(event.incident.severity)),
      ),
      tap(() => {
        unread = backlogged() ? unread + 1 : 0;
        if (unread > MAX_UNREAD_EVENTS) throw new DomainError(ErrorCode.SLOW_CONSUMER, `the client has not read ${MAX_UNREAD_EVENTS} events; reconnect`);
      }),
    );
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
