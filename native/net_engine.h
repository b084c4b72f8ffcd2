// The port servers of one ring: TCP listeners with a multishot accept, a
// multishot recv per connection reading into a provided-buffer ring, one
// send in flight per connection; UDP sockets with a multishot recvmsg.
// (docs/net.md; the JS side is src/net/.)
//
// No N-API here: the JS binding (net.cc) drives it from a hybrid driver's
// ring turn, and an io driver can drive it from its own thread.
//
// Threading: like Ring, everything runs on the ring's thread.
//
// Ownership, the part that must not go wrong (docs/net.md, "Buffers"):
// - A provided buffer belongs to the kernel while it is in the buffer ring.
//   A recv completion hands it to us; we lend it to JS with a kEvData or
//   kEvMessage event; JS gives every lent buffer back with one
//   kOpNetRelease command once the batch's handlers have returned, and only
//   then does it go back into the ring. The ring and the buffers are one
//   arena block the JS side allocated; the engine never frees it (the
//   arena outlives the ring, see ring.cc Destroy).
// - A connection's outgoing bytes are copied out of shared memory into the
//   connection's `queued` buffer when the command is read. `sending` is the
//   buffer the kernel reads while a send is in flight: it is never resized
//   or freed until that send's completion has been reaped. A connection's
//   slot (and its buffers) is freed only after the last completion of every
//   op it had in flight (ops == 0), whatever closed it.
// - A UDP send owns a copy of its datagram and address until its completion.
#pragma once

#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ring.h"

namespace gatio {

// Events for JS, 16 bytes each, in the event array (src/net/events.ts).
enum NetEventType : uint8_t {
  kEvOpen = 1,     // conn accepted
  kEvData = 2,     // conn: bid, len bytes at offset 0 of the buffer
  kEvEnd = 3,      // conn: the peer shut down its sending side (EOF)
  kEvDrain = 4,    // conn: the send queue emptied after write() had returned false
  kEvClose = 5,    // conn is gone; aux: 0, or the negated errno that closed it
  kEvMessage = 6,  // UDP: bid, len payload bytes at offset aux of the buffer
};

struct NetEvent {
  uint8_t type;
  uint8_t server;
  uint16_t bid;
  uint32_t conn;
  uint32_t len;
  int32_t aux;
};
static_assert(sizeof(NetEvent) == 16, "net event is 16 bytes (src/net/events.ts)");

// Flags of kOpNetSend.
constexpr uint32_t kSendWantDrain = 1;  // write() returned false: send kEvDrain when the queue empties
constexpr uint32_t kSendAfterFalse = 2;  // written while a drain was awaited: the handler ignores backpressure

// What a listen asks for.
struct ListenSpec {
  bool udp = false;
  sockaddr_storage addr{};
  socklen_t addrLen = 0;
  int backlog = 1024;
  bool reusePort = true;
  bool noDelay = true;
  int rcvBuf = 0, sndBuf = 0;  // 0: the kernel's default
  bool forceRcvBuf = false;    // rcvBuf is the runtime's UDP default: SO_RCVBUFFORCE first
  uint64_t bufBlock = 0;       // arena offset: buffer ring (entries * 16, page-aligned) then the buffers
  unsigned bufCount = 0;       // a power of two
  unsigned bufSize = 0;
  unsigned maxConnections = 0;
  uint32_t highWater = 0;      // bytes queued past which write() says false
  uint32_t maxQueued = 0;      // bytes queued past which the connection is closed (ENOBUFS)
  // Steering by CPU: steer[i] is the CPU of the group's i-th socket (in the
  // order they joined it); a connection (datagram) received on CPU c goes to
  // the socket whose CPU is c, else to c % n (SO_ATTACH_REUSEPORT_CBPF).
  // Empty: the kernel's hash. The program is the group's: the socket that
  // joins last attaches it for all (a driver that rejoins passes the new order).
  std::vector<int> steer;
};

// What a listen got, read back from the kernel.
struct ListenResult {
  int fd = -1;
  int port = 0;
  int backlog = 0;  // after the kernel's clamp (net.core.somaxconn)
  int rcvBuf = 0, sndBuf = 0;
  bool reusePort = false, noDelay = false;
};

struct NetServerStats {
  uint64_t accepted = 0, refused = 0, open = 0, closed = 0;
  uint64_t bytesIn = 0, bytesOut = 0, recvs = 0, sends = 0, sendsInFlight = 0;
  uint64_t enobufs = 0, rearms = 0, buffersLent = 0, acceptErrors = 0, acceptBackoffs = 0;
  uint64_t datagrams = 0, truncated = 0, sendErrors = 0;
  // accepted connections whose packets the kernel processed on this driver's CPU (SO_INCOMING_CPU), or elsewhere
  uint64_t incomingLocal = 0, incomingOther = 0;
  // times a connection stopped being read because its handlers held too many buffers (io + exec)
  uint64_t throttles = 0;
};

class NetEngine final : public CqeSink {
 public:
  // `events`/`cap`: the event array, whose length the engine keeps in
  // *eventCount (JS reads it live: commands submitted mid-batch can add
  // events); `queuedBytes`: one u32 per connection slot (maxSlots of
  // them), where JS reads each connection's send queue; `freeBlock`
  // returns a stopped server's buffer block to the arena.
  NetEngine(Ring* ring, uint8_t* base, uint64_t bytes, uint32_t* eventCount, NetEvent* events, unsigned cap, uint32_t* queuedBytes,
            unsigned maxSlots, std::function<void(uint64_t)> freeBlock);
  ~NetEngine();
  NetEngine(const NetEngine&) = delete;
  NetEngine& operator=(const NetEngine&) = delete;

  // Opens a socket, sets it up, binds, listens (TCP) and registers its
  // buffer ring; nothing is armed until Start(). The server index (0..254)
  // or -errno with *why.
  int Listen(const ListenSpec& spec, ListenResult* out, std::string* why);
  // Arms the multishot accept (TCP) or recvmsg (UDP).
  int Start(int server, std::string* why);
  // Stops taking new connections/datagrams and closes the socket once the
  // kernel is done with it; `closeConnections` closes its connections too.
  // The server's slot and buffer ring go when the last op has completed.
  void Stop(int server, bool closeConnections);
  // Every server stopped, every connection closed: before the ring closes.
  void Shutdown();

  static bool IsOurs(uint64_t userData) { return (userData >> 60) == 0x4; }
  // CqeSink: Ring::Reap hands us our completions; each writes events.
  bool Owns(uint64_t userData) const override { return IsOurs(userData); }
  void OnCqe(const io_uring_cqe* cqe) override;
  // Re-arms what ran out of buffers if some are back in the ring by now (see OnRecvMsg).
  void AfterReap() override;
  // Room for the events one more completion can make.
  bool Room() const override { return closing_ || sink_ || (overflow_.empty() && count_ + 3 <= cap_); }

  // A net command (kOpNet*) from JS: "" when done, else what was wrong.
  std::string Command(const RingCommand& c);
  std::string Validate(const RingCommand& c) const;
  // After a turn's commands: one send per connection written to (cork).
  void Flush();

  // Events written since the last ResetEvents.
  unsigned count() const { return count_; }
  // JS has handled every event: start the array again (with any that did
  // not fit last time: an event is never dropped).
  void ResetEvents();

  // ---- remote mode (an io driver: the handlers run on exec drivers) ----
  // Events go to `sink` instead of the event array, and lent buffers are
  // the caller's to track and give back with ReturnBuffer.
  void SetEventSink(std::function<void(const NetEvent&)> sink) { sink_ = std::move(sink); }
  void ReturnBuffer(unsigned server, uint16_t bid);
  // After the buffers given back in a batch: re-arm the connections that ran dry.
  void RearmStarved();
  // Nobody can run it: counted as refused; conn != 0 is closed (a datagram is dropped).
  void Refuse(unsigned server, uint32_t conn);
  void CloseConnection(uint32_t conn, int err);
  // What kOpNetSend / kOpNetSendTo do, with the bytes already out of shared memory.
  void QueueSend(uint32_t conn, const uint8_t* p, size_t n, uint32_t flags);
  void SendTo(unsigned server, const uint8_t* record, size_t n);
  // kOpNetEnd / Close / Pause / Resume on a connection id.
  void ConnCommand(uint8_t op, uint32_t conn);
  // Stops (on) or resumes (off) reading a connection whose handlers hold
  // too many of its buffers; independent of the handlers' own pause(). The
  // kernel's socket buffer then applies TCP flow control to the peer.
  void Throttle(uint32_t conn, bool on);

  int Peer(uint32_t conn, sockaddr_storage* out, socklen_t* len) const;
  bool ServerStats(int server, NetServerStats* out) const;
  // Every server's counters as doubles, kStatFields per server index (field
  // 0: 1 if the server is in use), for readers on other threads (an io
  // driver publishes them each turn; src/drivers/protocol/net.ts IO_NET_STATS).
  static constexpr unsigned kStatFields = 24;
  void WriteStats(double* out, unsigned servers) const;
  unsigned servers() const { return static_cast<unsigned>(servers_.size()); }

 private:
  struct Conn;
  struct Server;
  struct UdpSend;

  void Emit(uint8_t type, uint8_t server, uint32_t conn, uint16_t bid, uint32_t len, int32_t aux);
  io_uring_sqe* Sqe();
  void ArmAccept(Server& s);
  void ArmRecv(Conn& c);
  void ArmRecvMsg(Server& s);
  void SubmitSend(Conn& c);
  void OnAccept(Server& s, int res, bool more);
  void OnRecv(Conn& c, int res, unsigned flags, bool more);
  void OnSend(Conn& c, int res);
  void OnRecvMsg(Server& s, int res, unsigned flags, bool more);
  void CloseConn(Conn& c, int err);
  void MaybeFree(Conn& c);
  void MaybeFreeServer(Server& s);
  void Lend(Server& s, uint16_t bid);
  void GiveBack(Server& s, uint16_t bid);
  void ReleaseLent();
  Conn* Find(uint32_t id);
  bool WithinArena(double buf, uint32_t len) const;
  const Conn* Find(uint32_t id) const;

  Ring* ring_;
  uint8_t* base_;
  uint64_t bytes_;
  uint32_t* eventCount_;
  NetEvent* events_;
  unsigned cap_, count_ = 0;
  std::deque<NetEvent> overflow_;  // events made by commands while the array was full
  std::function<void(uint64_t)> freeBlock_;
  std::function<void(const NetEvent&)> sink_;
  uint32_t* queuedBytes_;
  bool closing_ = false;
  bool starvedSince_ = false;  // something ran out of buffers since the last AfterReap
  std::vector<std::unique_ptr<Server>> servers_;
  std::vector<std::unique_ptr<Conn>> conns_;  // by slot; grows to maxSlots_
  std::deque<uint32_t> freeSlots_;  // FIFO: a slot rests as long as it can before reuse
  std::vector<uint16_t> slotGen_;    // per slot: the generation of its last connection (ids: slot | gen << 20)
  unsigned maxSlots_;
  std::vector<std::pair<uint8_t, uint16_t>> lent_;  // (server, bid) lent to JS since the last release
  std::vector<std::unique_ptr<UdpSend>> udpSends_;   // by index; nullptr when free
  std::vector<uint32_t> freeUdp_;
  std::vector<uint32_t> dirty_;  // connections written to by this turn's commands
};

}  // namespace gatio
