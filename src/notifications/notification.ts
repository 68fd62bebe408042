import { maskedTopic } from '../people/person';

/** sms and voice go through Twilio, ntfy is push to a phone, teams a Teams Workflows webhook. */
export const CHANNELS = ['slack', 'email', 'pagerduty', 'webhook', 'sms', 'voice', 'ntfy', 'teams'] as const;
export type Channel = (typeof CHANNELS)[number];
/** Channels a receiver (and a custom or test notification) names; the rest reach a person through their own contact methods. */
export const RECEIVER_CHANNELS = ['slack', 'email', 'pagerduty', 'webhook', 'teams'] as const satisfies readonly Channel[];
export type ReceiverChannel = (typeof RECEIVER_CHANNELS)[number];

/** suppressed: kept back by a silence, recorded and never sent. */
export const DELIVERY_STATUSES = ['pending', 'sending', 'sent', 'failed', 'cancelled', 'suppressed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** What a delivery does on its target. */
export type DeliveryAction =
  | 'post' // Slack: a new message (the incident's thread anchor when it is the first)
  | 'resolve_update' // Slack: edit the incident's message to resolved, and reply in its thread
  | 'status_update' // Slack: edit the incident's message to its new state (acknowledged, reopened), and reply in its thread
  | 'message' // Slack: a custom message
  | 'trigger'
  | 'acknowledge'
  | 'resolve' // PagerDuty
  | 'send' // email, webhook, sms, ntfy, teams
  | 'digest' // sms: several incidents folded into one text, due when the fold window ends
  | 'call'; // voice

/** Event of a custom notification (POST /v1/incidents/{id}/notifications). */
export const CUSTOM_EVENT = 'notification.custom';

/** A delivery as stored: the outbox row of one (event, target). */
export interface Delivery {
  id: string;
  seq: number;
  incident_id: string;
  event: string;
  channel: Channel;
  action: DeliveryAction;
  target: string;
  target_ref: string | null;
  /** The rendered message as stored: JSON text. */
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  max_attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  external_ref: SlackMessageRef | null;
  created_at: string;
  updated_at: string;
  sent_at: string | null;
  /** 0 goes first; see priorityOf. */
  priority: number;
  route: string | null;
  receiver: string | null;
  silence_id: string | null;
}

/** Priority classes, most urgent first. */
export const PRIORITY_CLASSES = 4;

/**
 * When a delivery goes, relative to others waiting: pages (PagerDuty, texts and calls) and the first notification
 * of a P0/P1 incident first; then P0/P1 follow-ups and P2 first notifications; then P2 follow-ups
 * and P3/P4 first notifications; P3/P4 follow-ups last. A custom notification, asked for by a
 * person, counts as a first notification.
 */
export function priorityOf(channel: Channel, severity: string, first: boolean): number {
  if (channel === 'pagerduty' || channel === 'sms' || channel === 'voice') return 0;
  const base = severity === 'P0' || severity === 'P1' ? 0 : severity === 'P2' ? 1 : 2;
  return base + (first ? 0 : 1);
}

/** Where a Slack message landed; later messages of the incident thread under it. */
export interface SlackMessageRef {
  channel: string;
  ts: string;
}

/** What a channel provider is handed: the rendered payload and where it goes. */
export interface OutboundMessage {
  id: string;
  incident_id: string;
  channel: Channel;
  action: DeliveryAction;
  target: string;
  target_ref: string | null;
  /** JSON text, sent as is where the target takes the stored body unchanged (webhooks). */
  payload: string;
  /** The incident's first Slack message on this target, for threads and updates. */
  anchor: SlackMessageRef | null;
}

/** A provider's verdict on one attempt; the worker pool decides what happens next. */
export type SendOutcome =
  { kind: 'delivered'; ref?: SlackMessageRef } | { kind: 'retry'; error: string; retryAfterMs?: number } | { kind: 'permanent'; error: string };

export const delivered = (ref?: SlackMessageRef): SendOutcome => ({ kind: 'delivered', ref });
export const retry = (error: string, retryAfterMs?: number): SendOutcome => ({ kind: 'retry', error, retryAfterMs });
export const permanent = (error: string): SendOutcome => ({ kind: 'permanent', error });

/** A target as answers and logs show it: a push's is the person's ntfy topic, cut (knowing a topic on an open server is reading it). */
export function shownTarget(channel: string, target: string): string {
  return channel === 'ntfy' ? maskedTopic(target) : target;
}
