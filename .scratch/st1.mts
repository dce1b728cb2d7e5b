import { startTestServer } from '../test/helpers/node-server.js';
const s = await startTestServer({ FFEDGE_CONCURRENT_JOBS: '20' });
const key = await s.key();
const up = await (await s.fetch('/api/v1/uploads?filename=c.mp4', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'video/mp4' }, body: new Uint8Array([1,2,3]) })).json() as any;
for (const body of [{ input: up.uri, format: 'hls', segment_format: 'ts', ladder: [{ height: 720, video: { codec: 'vp9', bitrate: '1M' } }] }, { input: up.uri, format: 'smooth' }, { input: up.uri, format: 'hls', ladder: [{ height: 720, video: { codec: 'h264', bitrate: '1M' } }] }]) {
  const r = await s.fetch('/api/v1/stream', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  console.log(r.status, r.headers.get('ratelimit'), (await r.text()).slice(0, 600));
}
await s.close();
