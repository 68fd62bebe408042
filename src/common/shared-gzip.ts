import { constants, crc32, deflateRawSync } from 'node:zlib';

/**
 * One gzip stream per response, built from pieces compressed once and shared by many responses.
 *
 * A live stream sends the same bytes to every client with the same filter, and the cost of a
 * stream is the bytes written to it (bench/console-stream.js). Each response's own deflate state
 * would make each compress the same text again; instead each piece of text is compressed once by a
 * fresh compressor and ends on a byte boundary without the final-block bit (a sync flush), so any
 * sequence of pieces is one valid deflate stream, whatever each response was sent before. The
 * trailer's CRC-32 is combined from the pieces' CRCs and lengths, so a response never reads its
 * bytes again.
 */
export class GzipPiece {
  readonly bytes: Buffer;
  readonly crc: number;
  readonly length: number;

  constructor(text: Buffer) {
    this.bytes = deflateRawSync(text, { level: 6, finishFlush: constants.Z_SYNC_FLUSH });
    this.crc = crc32(text);
    this.length = text.length;
  }
}

/** A gzip member header: deflate, no name, no time, unknown OS (RFC 1952). */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff]);
/** An empty final block with fixed codes: ends the deflate stream after the last sync flush. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/** The gzip state of one response: its header goes with the first piece, the trailer at the end. */
export class GzipResponse {
  private crc = 0;
  private length = 0;
  private started = false;

  /** The bytes to write for `piece`. */
  bytesFor(piece: GzipPiece): Buffer {
    this.crc = crc32Combine(this.crc, piece.crc, piece.length);
    this.length = (this.length + piece.length) % 2 ** 32;
    if (this.started) return piece.bytes;
    this.started = true;
    return Buffer.concat([GZIP_HEADER, piece.bytes]);
  }

  /** The bytes that end the stream: the final block and the CRC-32 and length of all it carried. */
  end(): Buffer {
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.length >>> 0, 4);
    return Buffer.concat([this.started ? FINAL_BLOCK : Buffer.concat([GZIP_HEADER, FINAL_BLOCK]), trailer]);
  }
}

/** Whether an Accept-Encoding header admits gzip (RFC 9110 §12.5.3: `gzip`, `x-gzip` or `*`, q > 0). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  let star: boolean | undefined;
  for (const part of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const allowed = q === undefined || Number(q.slice(2)) > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return allowed;
    if (coding === '*') star = allowed;
  }
  return star === true;
}

// CRC-32 of a concatenation from the parts' CRCs: polynomial arithmetic modulo the CRC's
// generator, as zlib's crc32_combine does (reflected bit order).
const POLY = 0xedb88320;

function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** X2N[k] is x^(2^k) modulo the generator. */
const X2N: number[] = [];
for (let k = 0, p = 0x40000000; k < 32; k++, p = multModP(p, p)) X2N.push(p);

/** x^(n * 2^k) modulo the generator. */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000;
  for (; n > 0; n = Math.floor(n / 2), k++) if (n % 2) p = multModP(X2N[k & 31], p);
  return p;
}

/** CRC-32 of A followed by B, from crc(A), crc(B) and B's length in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multModP(x2nModP(lengthB, 3), crcA) ^ crcB) >>> 0;
}
