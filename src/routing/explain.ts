import { displayUrl } from '../common/display-url';
import { formatDuration } from './duration';
import type { MatchSubject } from './matchers';
import { matchRoutes, RouteVisit } from './route-matching';
import type { Receiver, Routing } from './routing-config';

export interface ReceiverView {
  name: string;
  slack_channels: string[];
  email_to: string[];
  /** `integration` (the key in notifications.pagerduty_integration_key_env) or `env:<VARIABLE>`: the variable's name, never the key. */
  pagerduty: string[];
  webhooks: string[];
  /** Teams Workflows webhooks: `default` (notifications.teams_webhook_env) or `env:<VARIABLE>`, never the URL. */
  teams: string[];
  /** Set for a people target (user:, schedule:, team:), resolved when notified. */
  person?: { kind: string; ref: string };
}

export interface Explanation {
  subject: MatchSubject;
  routes: {
    route: string;
    path: string;
    receiver: ReceiverView;
    escalation: { policy: string; repeat: number; steps: { after: string; receiver: ReceiverView }[] } | null;
    repeat_interval: string | null;
  }[];
  visits: RouteVisit[];
}

export function receiverView(receiver: Receiver): ReceiverView {
  return {
    name: receiver.name,
    slack_channels: receiver.slack_channels,
    email_to: receiver.email_to,
    pagerduty: receiver.pagerduty.map((p) => p.target),
    webhooks: receiver.webhook_urls.map(displayUrl),
    teams: receiver.teams.map((t) => t.target),
    ...(receiver.person ? { person: { ...receiver.person } } : {}),
  };
}

/** Which routes and receivers a subject reaches, and why: the service's `amtool config routes test`. */
export function explainRouting(routing: Routing, subject: MatchSubject): Explanation {
  const { matches, visits } = matchRoutes(routing, subject);
  const receiverOf = (name: string) => receiverView(routing.receivers.get(name)!);
  return {
    subject,
    routes: matches.map(({ route, receiver }) => {
      const policy = route.escalation ? routing.policies.get(route.escalation) : undefined;
      return {
        route: route.id,
        path: route.path,
        receiver: receiverOf(receiver),
        escalation: policy
          ? {
              policy: policy.name,
              repeat: policy.repeat,
              steps: policy.steps.map((s) => ({ after: formatDuration(s.after_ms), receiver: receiverOf(s.receiver) })),
            }
          : null,
        repeat_interval: route.repeat_interval_ms ? formatDuration(route.repeat_interval_ms) : null,
      };
    }),
    visits,
  };
}
