/**
 * The floor: a raw `ws` server that sends every frame back unchanged, configured like callgate's socket
 * server (no compression, same payload limit). Prints `{"msg":"listening","port":P}` on stdout.
 *   node --import tsx bench/echo-server.ts [--port 0]
 */
import { parseArgs } from 'node:util';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } }, strict: true });
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(values.port), perMessageDeflate: false, maxPayload: 1024 * 1024 });
wss.on('connection', (ws: WebSocket) => {
  ws.on('message', (data: RawData, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
wss.on('listening', () => {
  const addr = wss.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
});
process.on('SIGTERM', () => wss.close(() => process.exit(0)));
