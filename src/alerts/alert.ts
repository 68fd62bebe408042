import type { IncomingAlert } from '../incidents/domain/incoming-alert';

/** An alert as stored: what was received, plus the incident it was folded into. */
export interface StoredAlert extends Omit<IncomingAlert, 'id'> {
  id: string;
  incident_id: string;
  status: 'Accepted' | 'Duplicate';
}

export interface AlertAnswer {
  alert_id: string;
  incident_id: string;
  status: 'Accepted' | 'Duplicate';
  message: string;
}
