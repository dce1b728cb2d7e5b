/**
 * A GET sent from a chosen local address, which fetch cannot choose: all of 127/8 is this host, so requests from
 * 127.0.0.2, 127.0.0.3... are different clients to a server on 127.0.0.1.
 */
import { request } from 'node:http';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

export function getFrom(url: string, options: { from?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(url), { localAddress: options.from ?? '127.0.0.1', headers: options.headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
