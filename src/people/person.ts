/** People as the service knows them: users, how they want to be reached, and teams. */

/** How a person can be reached: sms and voice need a phone number, push an ntfy topic. */
export const CONTACT_METHODS = ['slack', 'email', 'sms', 'voice', 'push'] as const;
export type ContactMethod = (typeof CONTACT_METHODS)[number];

/**
 * One of a user's notification rules: after this long (counted from when they are first
 * notified of an incident), reach them by these methods, while nobody has acknowledged it.
 */
export interface NotificationRule {
  after_ms: number;
  methods: ContactMethod[];
}

export interface User {
  id: string;
  name: string;
  email: string;
  slack_user_id: string | null;
  phone: string | null;
  /** The ntfy topic their phone subscribes to (push). */
  ntfy_topic: string | null;
  time_zone: string;
  notification_rules: NotificationRule[];
  active: boolean;
  deactivated_at: string | null;
  created_at: string;
  updated_at: string;
}

export const TEAM_NOTIFY = ['policy', 'members'] as const;
export type TeamNotify = (typeof TEAM_NOTIFY)[number];

export interface Team {
  id: string;
  name: string;
  member_ids: string[];
  escalation_policy: string | null;
  notify: TeamNotify;
  created_at: string;
  updated_at: string;
}

/** The methods a user has: email always, Slack with a Slack user id, text and call with a phone, push with an ntfy topic. */
export function contactMethodsOf(user: Pick<User, 'slack_user_id' | 'phone' | 'ntfy_topic'>): ContactMethod[] {
  return [
    ...(user.slack_user_id ? (['slack'] as const) : []),
    'email' as const,
    ...(user.phone ? (['sms', 'voice'] as const) : []),
    ...(user.ntfy_topic ? (['push'] as const) : []),
  ];
}

/** Where a method reaches the user: the Slack id, the address, the number or the topic. */
export function addressOf(user: Pick<User, 'slack_user_id' | 'email' | 'phone' | 'ntfy_topic'>, method: ContactMethod): string {
  switch (method) {
    case 'slack':
      return user.slack_user_id ?? '';
    case 'email':
      return user.email;
    case 'sms':
    case 'voice':
      return user.phone ?? '';
    case 'push':
      return user.ntfy_topic ?? '';
  }
}

/** The user's rules, or, when they have none, every method they have at once. */
export function effectiveRules(user: User): NotificationRule[] {
  return user.notification_rules.length > 0 ? user.notification_rules : [{ after_ms: 0, methods: contactMethodsOf(user) }];
}

/**
 * An ntfy topic as answers show it: its first characters only. On a server without access
 * control, whoever knows a topic can read it (and the acknowledgement links it carries).
 */
export function maskedTopic(topic: string): string {
  return topic.length <= 4 ? '…' : `${topic.slice(0, 4)}…`;
}
