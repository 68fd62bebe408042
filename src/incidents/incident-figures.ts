import { Injectable } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service';
import { IncidentRepository } from './incident.repository';

/** Hands the metrics the open-incident counts, read from the store at each scrape. */
@Injectable()
export class IncidentFigures {
  constructor(metrics: MetricsService, repository: IncidentRepository) {
    metrics.provide({ openIncidents: () => repository.countOpenByStateAndSeverity() });
  }
}
