// node:http: GET / -> "hello".   node bench/http/node-http.mjs PORT
import http from 'node:http';

const port = Number(process.argv[2]);
http
  .createServer((req, res) => {
    if (req.url === '/') res.end('hello');
    else (res.statusCode = 404), res.end('not found');
  })
  .listen(port, '127.0.0.1', () => console.log('ready'));
