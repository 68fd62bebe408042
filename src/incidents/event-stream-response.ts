import type { ServerResponse } from 'node:http';
import { GzipPiece, GzipResponse } from '../common/shared-gzip';

/**
 * Text for server-sent event responses, encoded at most once per coding however many responses
 * it is written to: the same batch of events goes to every stream with the same filter.
 */
export class SseText {
  private identity: Buffer | undefined;
  private gzip: GzipPiece | undefined;

  constructor(private readonly text: string) {}

  plain(): Buffer {
    return (this.identity ??= Buffer.from(this.text));
  }

  gzipped(): GzipPiece {
    return (this.gzip ??= new GzipPiece(this.plain()));
  }
}

/** Written to every stream when it opens: reconnect after 2 s, and a comment that says it is open. */
export const SSE_OPENING = new SseText('retry: 2000\n: open\n\n');
/** A comment line, often enough that proxies and load balancers keep an idle stream open. */
export const SSE_HEARTBEAT = new SseText(': keep-alive\n\n');

/** One server-sent event response, gzipped when its client accepts it. */
export class EventStreamResponse {
  private readonly gzip: GzipResponse | undefined;

  constructor(
    readonly raw: ServerResponse,
    gzip: boolean,
  ) {
    this.gzip = gzip ? new GzipResponse() : undefined;
  }

  get ended(): boolean {
    return this.raw.writableEnded || this.raw.destroyed;
  }

  /** Whether the connection holds unwritten data: its client is not reading as fast as it is sent. */
  get backlogged(): boolean {
    return this.raw.writableNeedDrain;
  }

  write(text: SseText): void {
    if (this.ended) return;
    this.raw.write(this.gzip ? this.gzip.bytesFor(text.gzipped()) : text.plain());
  }

  /** Ends the response, after `last` if given; a gzipped one with its trailer, so the client can check it. */
  end(last?: SseText): void {
    if (this.ended) return;
    if (last) this.write(last);
    if (this.gzip) this.raw.end(this.gzip.end());
    else this.raw.end();
  }
}
