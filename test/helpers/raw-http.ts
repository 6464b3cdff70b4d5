/**
 * Raw TCP clients for edge tests: bytes exactly as written (malformed request targets, bad headers,
 * hand-made WebSocket frames), which no HTTP or WebSocket library would send.
 */
import { connect, type Socket } from 'node:net';

/** Sends `text` and resolves with everything the server wrote until it closed or `until` matched. */
export function rawExchange(port: number, text: string | Buffer, until: (received: string) => boolean = () => false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const done = (): void => {
      socket.destroy();
      resolve(received);
    };
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      if (until(received)) done();
    });
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? done() : reject(err)));
    socket.write(text);
  });
}

/** The status code of the first response line, or null when the server answered nothing. */
export function statusOf(response: string): number | null {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(response);
  return m === null ? null : Number(m[1]);
}

/** A complete response: headers, then as many body bytes as Content-Length says (or the socket closed). */
export function responseComplete(received: string): boolean {
  const end = received.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = received.slice(0, end);
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) return received.endsWith('\r\n0\r\n\r\n');
  const len = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (len === null) return /^HTTP\/1\.1 101/.test(received);
  return received.length >= end + 4 + Number(len[1]);
}

/** A masked client WebSocket frame (RFC 6455 §5.2): opcode 1 text, 2 binary, 9 ping. */
export function clientFrame(payload: string | Buffer, opcode = 1): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  let header: Buffer;
  if (data.length < 126) {
    header = Buffer.from([0x80 | opcode, 0x80 | data.length]);
  } else if (data.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(data.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  }
  const masked = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = (data[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([header, mask, masked]);
}

export const UPGRADE_HEADERS = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

/** Opens a raw WebSocket (handshake done by hand) and resolves once the 101 arrived. */
export function rawWebSocket(port: number, path = '/'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (statusOf(head) === 101) resolve(socket);
      else {
        socket.destroy();
        reject(new Error(`upgrade refused: ${head.split('\r\n')[0] ?? ''}`));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${UPGRADE_HEADERS}\r\n`);
  });
}
