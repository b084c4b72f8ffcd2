// The messages of port servers on io drivers (io + exec), between the main
// thread, the io driver that owns the sockets and the exec drivers that run
// the handlers: the C++ mirror of NetCmdAt / NetEventAt / NetSetupAt /
// NetSetupDoneAt in src/drivers/protocol/net.ts. Fixed layouts,
// little-endian; the static asserts pin every offset to the TS side's.
#pragma once
#include <cstddef>
#include <cstdint>

namespace gatio {

constexpr uint8_t kKindNetCmd = 9;         // exec -> io: one command for a connection or server
constexpr uint8_t kKindNetEvent = 10;      // io -> exec: one event of a connection it runs
constexpr uint8_t kKindNetSetup = 11;      // main -> io: listen, start, stop, an exec driver died
constexpr uint8_t kKindNetSetupDone = 12;  // io -> main: the answer to a setup message

// NetCmd ops are the ring's kOpNet* (ring.h); NetSetup ops:
enum NetSetupOp : uint8_t { kSetupListen = 1, kSetupStart = 2, kSetupStop = 3, kSetupExecDied = 4, kSetupExecJoined = 5 };
constexpr uint8_t kSetupReusePort = 1, kSetupNoDelay = 2, kSetupUdp = 4, kSetupCloseConns = 8, kSetupForceRcvBuf = 16;

struct NetCmdMsg {
  uint8_t kind;      // kKindNetCmd
  uint8_t op;        // kOpNetSend, End, Close, Pause, Resume, SendTo, Release
  uint16_t gen;      // the io driver's inbox generation the sender read
  uint32_t conn;     // connection id (Send, End, Close, Pause, Resume)
  double staging;    // Send, SendTo: arena offset of the sender's staging ring (net.ts StagingAt)
  double pos;        // Send, SendTo: where the bytes start, in bytes ever written to that ring
  uint32_t len;      // Send, SendTo: how many
  uint8_t server;    // SendTo, Release
  uint8_t flags;     // Send: kSendWantDrain
  uint16_t bid;      // Release: the buffer given back
  uint16_t from;     // the sender's endpoint (an exec driver)
  uint16_t fromGen;  // the sender's inbox generation: a dead incarnation's commands are dropped
  uint32_t reserved;
};
static_assert(sizeof(NetCmdMsg) == 40 && offsetof(NetCmdMsg, from) == 32 && offsetof(NetCmdMsg, fromGen) == 34 && offsetof(NetCmdMsg, conn) == 4 && offsetof(NetCmdMsg, staging) == 8 && offsetof(NetCmdMsg, pos) == 16 &&
                  offsetof(NetCmdMsg, len) == 24 && offsetof(NetCmdMsg, server) == 28 && offsetof(NetCmdMsg, flags) == 29 && offsetof(NetCmdMsg, bid) == 30,
              "NetCmd offsets (protocol/net.ts NetCmdAt)");

struct NetEventMsg {
  uint8_t kind;      // kKindNetEvent
  uint8_t type;      // NetEventType (net_engine.h)
  uint16_t driver;   // the io driver's id
  uint32_t conn;
  uint32_t len;
  int32_t aux;
  uint16_t bid;
  uint8_t server;
  uint8_t reserved0;
  uint16_t gen;  // the exec driver's inbox generation it is meant for: a successor drops its predecessor's
  uint8_t family;  // Open: the peer's address family (4 or 6), 0 if unknown
  uint8_t reserved1;
  uint16_t peerPort;  // Open: the peer's port
  uint8_t reserved[6];
  uint8_t peer[16];  // Open: the peer's address (4 or 16 bytes)
};
static_assert(sizeof(NetEventMsg) == 48 && offsetof(NetEventMsg, gen) == 20 && offsetof(NetEventMsg, family) == 22 && offsetof(NetEventMsg, peerPort) == 24 &&
                  offsetof(NetEventMsg, peer) == 32 && offsetof(NetEventMsg, conn) == 4 && offsetof(NetEventMsg, len) == 8 && offsetof(NetEventMsg, aux) == 12 &&
                  offsetof(NetEventMsg, bid) == 16 && offsetof(NetEventMsg, server) == 18,
              "NetEvent offsets (protocol/net.ts NetEventAt)");

struct NetSetupMsg {
  uint8_t kind;  // kKindNetSetup
  uint8_t op;    // NetSetupOp
  uint16_t replyTo;
  uint16_t gen;
  uint16_t server;  // Start, Stop
  double callId;
  double bufBlock;     // Listen: the buffer ring's block (page-aligned, in the io driver's arena): the io driver's from now on
  double queuedBlock;  // Listen, the first on this driver: the u32 per connection slot array (`slots` of them), or -1
  uint32_t slots;
  uint32_t bufCount, bufSize, maxConnections, highWater, maxQueued;
  int32_t backlog, rcvBuf, sndBuf;
  uint16_t port;
  uint8_t family;  // 4 or 6
  uint8_t flags;   // kSetup*
  uint8_t addr[16];
  uint16_t execs[8];  // Listen: the exec drivers' endpoints that run its connections
  uint8_t nExecs;
  uint8_t nSteer;
  uint16_t reserved0;
  uint16_t steer[8];  // Listen: CPU steering, the CPUs of the group's sockets in join order
  uint16_t died;      // ExecDied: the endpoint of the exec driver that died; ExecJoined: of its successor, attached to `server`
  uint16_t diedGen;   // ExecDied: its successor's generation
  uint16_t execGens[8];  // Listen: the exec drivers' inbox generations now; ExecJoined: execGens[0], the successor's
  double steerBlock;     // Listen with more than 8 steering CPUs: an arena block of nSteerAll u16 CPUs (the sender frees it after the reply); else -1
  uint16_t nSteerAll;
  uint8_t reserved[6];
};
static_assert(sizeof(NetSetupMsg) == 160 && offsetof(NetSetupMsg, diedGen) == 126 && offsetof(NetSetupMsg, execGens) == 128 && offsetof(NetSetupMsg, callId) == 8 && offsetof(NetSetupMsg, bufBlock) == 16 &&
                  offsetof(NetSetupMsg, queuedBlock) == 24 && offsetof(NetSetupMsg, slots) == 32 && offsetof(NetSetupMsg, backlog) == 56 &&
                  offsetof(NetSetupMsg, port) == 68 && offsetof(NetSetupMsg, family) == 70 && offsetof(NetSetupMsg, flags) == 71 &&
                  offsetof(NetSetupMsg, addr) == 72 && offsetof(NetSetupMsg, execs) == 88 && offsetof(NetSetupMsg, nExecs) == 104 &&
                  offsetof(NetSetupMsg, nSteer) == 105 && offsetof(NetSetupMsg, steer) == 108 && offsetof(NetSetupMsg, died) == 124 &&
                  offsetof(NetSetupMsg, steerBlock) == 144 && offsetof(NetSetupMsg, nSteerAll) == 152,
              "NetSetup offsets (protocol/net.ts NetSetupAt)");

struct NetSetupDoneMsg {
  uint8_t kind;  // kKindNetSetupDone
  uint8_t ok;
  uint16_t driver;
  int32_t err;  // a negated errno when !ok
  double callId;
  int32_t server, fd, port, backlog, rcvBuf, sndBuf;
  uint8_t reusePort, noDelay;
  uint8_t reserved[6];
};
static_assert(sizeof(NetSetupDoneMsg) == 48 && offsetof(NetSetupDoneMsg, callId) == 8 && offsetof(NetSetupDoneMsg, server) == 16 &&
                  offsetof(NetSetupDoneMsg, reusePort) == 40,
              "NetSetupDone offsets (protocol/net.ts NetSetupDoneAt)");

// An exec driver's staging ring for one io driver (in their TPC's arena):
// the exec driver copies outgoing bytes in, the io driver copies them out.
struct StagingHeader {
  uint64_t written;   // bytes ever written (the exec driver's)
  uint64_t consumed;  // bytes ever copied out (the io driver's, stored with release order)
  uint64_t size;      // bytes of the ring after the 64-byte header
  uint64_t reserved[5];
};
static_assert(sizeof(StagingHeader) == 64, "staging header is 64 bytes");

}  // namespace gatio
