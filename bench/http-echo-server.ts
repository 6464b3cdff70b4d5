/**
 * The HTTP floor: a plain `node:http` server that answers every request with its own query string as the
 * body (about as long as callgate's JSON reply), with Content-Length, over keep-alive — the cost of an
 * HTTP round trip on Node alone, to which callgate's `GET /v1/check` is compared in the same run (issue 14:
 * p99 ≤ 1.5× this). Prints `{"msg":"listening","port":P}` on stdout.
 *   node --import tsx bench/http-echo-server.ts [--port 0]
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } }, strict: true });
const server = createServer((req, res) => {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const body = q < 0 ? '' : target.slice(q + 1);
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
});
server.listen(Number(values.port), '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
