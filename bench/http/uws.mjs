// uWebSockets.js: GET / -> "hello".   node bench/http/uws.mjs PORT
import { createRequire } from 'node:module';

const uWS = createRequire(import.meta.url)('@trufflesuite/uws-js-unofficial');
const port = Number(process.argv[2]);
uWS
  .App()
  .get('/', (res) => res.end('hello'))
  .any('/*', (res) => res.writeStatus('404 Not Found').end('not found'))
  .listen('127.0.0.1', port, (token) => console.log(token ? 'ready' : `failed to listen on ${port}`));
