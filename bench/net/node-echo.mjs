// node:net's side of bench/net.mjs: the same echo on Node's own sockets.
//   node bench/net/node-echo.mjs PORT
import net from 'node:net';

const port = Number(process.argv[2]);
// A client that goes away resets its connections: that is not a failure of the server.
const srv = net.createServer({ noDelay: true }, (s) => s.on('data', (d) => s.write(d)).on('error', () => s.destroy()));
srv.listen(port, '127.0.0.1', () => console.log(`ready ${srv.address().port}`));
process.on('SIGTERM', () => process.exit(0));
