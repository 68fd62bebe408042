import { randomBytes } from 'node:crypto';
import { createGunzip, crc32, gunzipSync } from 'node:zlib';
import { acceptsGzip, crc32Combine, GzipPiece, GzipResponse } from '../src/common/shared-gzip';

describe('shared gzip pieces (the live stream compresses each batch once for all its clients)', () => {
  it('combines CRC-32s as a CRC-32 of the concatenation, for empty, short and long parts', () => {
    const parts = [Buffer.alloc(0), Buffer.from('a'), randomBytes(3), randomBytes(1000), randomBytes(70_001), Buffer.from('data: {}\n\n')];
    for (const a of parts) for (const b of parts) expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(Buffer.concat([a, b])));
  });

  it('pieces shared between responses make a valid gzip stream for each, whatever each got before', () => {
    const event = (i: number) => `data: ${JSON.stringify({ event_type: 'incident.detected', seq: i, title: 'x'.repeat(i % 50) })}\n\n`;
    const texts = Array.from({ length: 40 }, (_, i) => Buffer.from(event(2 * i) + event(2 * i + 1)));
    const pieces = texts.map((text) => new GzipPiece(text));
    // Two responses: one gets every piece, the other joins later and gets only some.
    const everything = new GzipResponse();
    const some = new GzipResponse();
    const sent: Buffer[][] = [[], []];
    const plain: Buffer[][] = [[], []];
    pieces.forEach((piece, i) => {
      sent[0].push(everything.bytesFor(piece));
      plain[0].push(texts[i]);
      if (i >= 7 && i % 3 !== 0) {
        sent[1].push(some.bytesFor(piece));
        plain[1].push(texts[i]);
      }
    });
    sent[0].push(everything.end());
    sent[1].push(some.end());
    // gunzipSync checks the trailer: the CRC-32 and the length of everything.
    expect(gunzipSync(Buffer.concat(sent[0]))).toEqual(Buffer.concat(plain[0]));
    expect(gunzipSync(Buffer.concat(sent[1]))).toEqual(Buffer.concat(plain[1]));
    // A trailer with a wrong CRC is refused, so the check above means something.
    const broken = Buffer.concat(sent[0]);
    broken[broken.length - 8] ^= 1;
    expect(() => gunzipSync(broken)).toThrow();
    // Pieces compress: forty pairs of events in far fewer bytes.
    expect(Buffer.concat(sent[0]).length).toBeLessThan(Buffer.concat(plain[0]).length / 2);
  });

  it('each piece can be read as soon as it arrives, before the stream ends', async () => {
    const response = new GzipResponse();
    const gunzip = createGunzip();
    const out: string[] = [];
    gunzip.on('data', (chunk: Buffer) => out.push(chunk.toString()));
    for (const text of ['retry: 2000\n\n', 'data: {"a":1}\n\n', 'data: {"b":2}\n\n']) {
      gunzip.write(response.bytesFor(new GzipPiece(Buffer.from(text))));
      // zlib inflates on the thread pool: wait for the text, not for a turn of the loop.
      for (let i = 0; i < 100 && !out.join('').endsWith(text); i++) await new Promise((r) => setTimeout(r, 10));
      expect(out.join('').endsWith(text)).toBe(true);
    }
    gunzip.end(response.end());
    await new Promise((resolve, reject) => gunzip.on('end', resolve).on('error', reject));
  });

  it('a response that ends before any piece is still a valid, empty gzip stream', () => {
    expect(gunzipSync(new GzipResponse().end())).toEqual(Buffer.alloc(0));
  });

  it('reads Accept-Encoding as RFC 9110 does', () => {
    expect(acceptsGzip('gzip, deflate, br, zstd')).toBe(true); // what Chromium sends
    expect(acceptsGzip('br;q=1.0, gzip;q=0.8')).toBe(true);
    expect(acceptsGzip('X-GZIP')).toBe(true);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('gzip;q=0, *')).toBe(false);
    expect(acceptsGzip('*;q=0')).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
    expect(acceptsGzip('deflate, br')).toBe(false);
    expect(acceptsGzip('')).toBe(false);
    expect(acceptsGzip(undefined)).toBe(false);
  });
});
