/** The console's first load, gzipped as the service sends it (scripts/console-size.js). */
export interface ConsoleSize {
  js_gzip_bytes: number;
  css_gzip_bytes: number;
  js_bytes: number;
  files: string[];
}
export function consoleSize(): ConsoleSize;
