// The echo handler of bench/net.mjs (and examples/tcp-echo.mjs uses its own).
import { defineTcpHandler } from 'gatio';

defineTcpHandler('bench-echo', {
  data(conn, bytes) {
    conn.write(bytes);
  },
});

// bench/net-steering.mjs: says which driver took the connection, then ends it.
import { driverInfo } from 'gatio';
defineTcpHandler('bench-who', {
  open(conn) {
    conn.end(`${driverInfo().id}\n`);
  },
});
