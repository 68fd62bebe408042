import { useEffect, useRef, useState } from 'preact/hooks';
import type { LiveEvent } from './types';

/**
 * Live incident events from GET /v1/incidents/events (server-sent events, the session cookie
 * goes along). The browser's EventSource reconnects by itself after a drop; `connected` says
 * whether the stream is open now, so the page can say when it is not live.
 */
export function useLiveEvents(query: string, onEvent: (event: LiveEvent) => void): { connected: boolean } {
  const [connected, setConnected] = useState(false);
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    const source = new EventSource(`/v1/incidents/events${query ? `?${query}` : ''}`);
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(source.readyState === EventSource.OPEN);
    source.onmessage = (message: MessageEvent<string>) => handler.current(JSON.parse(message.data) as LiveEvent);
    return () => {
      source.close();
      setConnected(false);
    };
  }, [query]);
  return { connected };
}
