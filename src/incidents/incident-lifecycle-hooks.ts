import { Injectable } from '@nestjs/common';
import type { Tx } from '../database/transactor';
import type { IncidentEvent } from './domain/events';

/**
 * A port for work that must commit together with an incident change (the notification outbox).
 * Other modules register here; the incidents module never imports them.
 */
export interface IncidentLifecycleHook {
  /** Runs inside the transaction of the change; throwing rolls the change back. */
  withinTransaction(tx: Tx, event: IncidentEvent): Promise<void>;
}

@Injectable()
export class IncidentLifecycleHooks {
  private readonly hooks: IncidentLifecycleHook[] = [];

  register(hook: IncidentLifecycleHook): void {
    this.hooks.push(hook);
  }

  async run(tx: Tx, event: IncidentEvent): Promise<void> {
    for (const hook of this.hooks) await hook.withinTransaction(tx, event);
  }
}
