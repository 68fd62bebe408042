import type { Channel, OutboundMessage, SendOutcome } from '../notification';

/** Whether a provider can send at all; `problem` names what is missing, never a secret. */
export interface ChannelReadiness {
  enabled: boolean;
  configured: boolean;
  problem: string | null;
}

/** One provider per channel. It sends what it is handed and judges the answer; it never retries. */
export interface ChannelProvider {
  readonly channel: Channel;
  readiness(): ChannelReadiness;
  send(message: OutboundMessage): Promise<SendOutcome>;
  /** Releases pooled connections at shutdown. */
  close?(): Promise<void> | void;
}

export const CHANNEL_PROVIDERS = Symbol('CHANNEL_PROVIDERS');
