// The handlers of examples/tcp-echo.mjs. Every driver imports this module.
import { defineTcpHandler, defineUdpHandler } from 'gatio';

// TCP echo: what arrives goes back; when the peer ends, we end after it.
defineTcpHandler('echo', {
  data(conn, bytes) {
    conn.write(bytes); // bytes is valid during this call only: write() copies it
  },
});

// UDP echo.
defineUdpHandler('udp-echo', {
  message(socket, bytes, peer) {
    socket.send(bytes, peer);
  },
});
