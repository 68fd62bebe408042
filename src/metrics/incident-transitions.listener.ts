import { applyDecorators, Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { IncidentEventName, IncidentStateEvent } from '../incidents/domain/events';
import { MetricsService } from './metrics.service';

const STATE_EVENT_NAMES = Object.values(IncidentEventName).filter((name) => name !== IncidentEventName.Updated);

/** Counts state changes from the committed domain events: a rolled-back change is never counted. */
@Injectable()
export class IncidentTransitionsListener {
  constructor(private readonly metrics: MetricsService) {}

  @applyDecorators(...STATE_EVENT_NAMES.map((name) => OnEvent(name)))
  counted(event: IncidentStateEvent): void {
    this.metrics.incidentTransition(event.previous_state, event.incident.state);
  }
}
