// The echo handler of bench/net.mjs (and examples/tcp-echo.mjs uses its own).
import { defineTcpHandler } from 'gatio';

defineTcpHandler('bench-echo', {
  data(conn, bytes) {
    conn.write(bytes);
  },
});
