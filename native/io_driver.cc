// Native io drivers: one pinned thread per `io` driver of the plan, serving
// I/O requests from its inbox queue through its own io_uring. No JavaScript
// runs on it. Design and protocol: docs/drivers.md ("Native io drivers");
// message layouts: io_driver.h / src/drivers/protocol/messages.ts.
//
// The loop (Loop::Serve), on the driver's thread only:
//   pop requests (at most as many as the ring may have in flight) and turn
//   each into an SQE -> submit, reap -> push one IoDone per completion to
//   the endpoint the request names -> wake each endpoint pushed to if it is
//   parked (once per turn) -> nothing to do: park (PrepareToPark on the
//   inbox, then wait in io_uring_enter; a multishot POLL_ADD on the inbox's
//   eventfd turns a producer's wakeup into a completion) -> Unparked.
//
// Ownership:
// - A buffer (or OPENAT path) named in a request belongs to the requester
//   from the moment it sends the request until it has read the IoDone: the
//   kernel may read or write it until then. The driver never frees, copies
//   or keeps it. It only checks that [buf, buf + len) lies inside the arena.
// - The arenas: IoDriver holds each arena (ArenaHold), so every byte a
//   request may name (and every queue) stays mapped while the thread runs.
// - Stop: the thread cancels everything in flight and waits for every
//   completion (Ring::Close, up to 10 s) before it exits, so the kernel never
//   writes into memory after ioDriverStop returns. If ops are still running
//   at that deadline the arena holds are leaked on purpose (a leak, never a
//   kernel write into freed memory).
#include "io_driver.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "addon.h"
#include "net_engine.h"
#include "net_msgs.h"
#include "queue.h"
#include "ring.h"

namespace gatio {
namespace {

constexpr uint64_t kPollTag = (1ull << 53) - 1;  // user_data of our POLL_ADD on the inbox eventfd; ops use slot indices
constexpr int64_t kParkNs = 1000000000;          // one sleep's bound: a safety net, wakeups come through the poll
constexpr int64_t kRetryNs = 100000;             // a reply queue was full: try again this soon
constexpr int64_t kNoPollNs = 1000000;           // sleep bound if the eventfd poll ever fails
constexpr int kCloseTimeoutMs = 10000;

// A spin-wait hint: lets an SMT sibling run, saves power.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Shared by the JS thread that starts/stops the driver and the io thread.
struct IoDriver {
  // Written before the thread starts, read-only afterwards.
  uint16_t driverId = 0;
  unsigned tpc = 0;  // its TPC: the arena its buffer rings, queues and staging rings live in
  int pu = -1;
  int eventfd = -1;  // the inbox's eventfd; owned by the runtime, which closes it only after stop
  unsigned ringEntries = 256;
  int64_t spinNs = 0;
  std::vector<HeldArena> arenas;    // by TPC index; the io thread reads base and bytes only
  std::vector<QueueRef> endpoints;  // every endpoint's inbox, by endpoint number
  std::optional<QueueRef> inbox;
  double* stats = nullptr;  // kStatSlots Float64 values in the arena

  // The JS thread's.
  uint32_t handle = 0;
  napi_env env = nullptr;
  pthread_t thread{};

  std::atomic<bool> stop{false};

  // Start handshake: the thread reports once, ioDriverStart waits for it.
  std::mutex mu;
  std::condition_variable cv;
  bool reported = false;
  int initErr = 0;
  std::string initWhy;
  pid_t tid = 0;
  int cpu = -1;
  TaskRun mode = TaskRun::kNone;
  unsigned sqEntries = 0, cqEntries = 0, maxInFlight = 0;

  // Fault injection (ioDriverFault): the loop stops as on a failure.
  std::atomic<bool> fault{false};

  // Written by the thread before it exits; read after the join.
  bool drained = true;
  uint64_t stale = 0;    // requests stamped for a predecessor that died (their requesters were told)
  uint64_t dropped = 0;  // malformed requests (no valid reply endpoint): nobody to answer
  std::string failure;   // why the loop stopped early, if it did
  std::vector<uint64_t> orphans;  // a death's buffer and queue blocks: the main thread frees them once the JS drivers took the death in
};

class Loop {
 public:
  explicit Loop(IoDriver* d) : d_(d) {}

  void Run() {
    std::string why;
    RingConfig cfg;
    cfg.entries = d_->ringEntries;
    cfg.mode = TaskRun::kAuto;  // no base: we prepare SQEs ourselves, against the request's arena
    int rc = ring_.Init(cfg, &why);
    if (rc == 0) rc = ArmPoll(&why);
    if (rc == 0) {
      // Leave CQ room for the poll's and the close's own completions.
      cap_ = ring_.cqEntries() > 8 ? ring_.cqEntries() - 4 : ring_.cqEntries() / 2;
      ops_.resize(cap_);
      for (uint32_t i = cap_; i > 0; i--) free_.push_back(i - 1);
      backlog_.resize(d_->endpoints.size());
      dirty_.assign(d_->endpoints.size(), 0);
      cpl_.resize(ring_.cqEntries());
      Publish();
    }
    Report(rc, why);
    if (rc < 0) return;
    try {
      Serve();
    } catch (const std::exception& e) {  // a corrupt queue (QueueRef::Drain): stop serving, say why
      d_->failure = e.what();
    }
    if (!d_->failure.empty()) {
      std::fprintf(stderr, "gatio: io driver %u (PU %d) stopped serving: %s\n", d_->driverId, d_->pu, d_->failure.c_str());
    }
    if (net_) net_->Shutdown();  // stops every accept, closes every connection: the close below drains their ops
    d_->drained = ring_.Close(kCloseTimeoutMs);  // cancels everything, waits for every completion
    NetClose(d_->drained);
    inFlight_ = 0;
    backlogged_ = 0;
    Publish();
    if (!d_->stop.load(std::memory_order_acquire)) Exited();
  }

 private:
  struct Op {
    double callId;
    double block;
    uint16_t replyTo;
    uint16_t bufArena;
    uint8_t op;
  };

  void Report(int rc, const std::string& why) {
    std::lock_guard<std::mutex> lock(d_->mu);
    d_->initErr = rc < 0 ? -rc : 0;
    d_->initWhy = why;
    d_->tid = tid_;
    d_->cpu = sched_getcpu();
    d_->mode = ring_.mode();
    d_->sqEntries = rc == 0 ? ring_.sqEntries() : 0;
    d_->cqEntries = rc == 0 ? ring_.cqEntries() : 0;
    d_->maxInFlight = cap_;
    d_->reported = true;
    d_->cv.notify_all();
  }

  void Serve() {
    std::string why;
    gen_ = static_cast<uint16_t>(d_->inbox->Generation());
    while (!d_->stop.load(std::memory_order_acquire)) {
      if (d_->fault.load(std::memory_order_acquire)) {
        d_->failure = "stopped by ioDriverFault (fault injection)";
        return;
      }
      turns_++;
      uint32_t popped = 0;
      if (inFlight_ < cap_) popped = d_->inbox->Drain([this](const uint8_t* p, uint32_t n) { OnRequest(p, n); }, cap_ - inFlight_);
      messages_ += popped;
      NetTurn();
      int rc = ring_.Submit(0, &why);
      if (rc < 0) return Fail("io_uring_enter", rc);
      unsigned reaped = ReapAll();
      Flush();
      Publish();
      if (popped > 0 || reaped > 0) continue;
      if (d_->stop.load(std::memory_order_acquire)) break;
      // Idle, or blocked on something other than the inbox.
      int64_t bound = pollBroken_ ? kNoPollNs : kParkNs;
      if (backlogged_ > 0) {
        rc = ring_.Submit(kRetryNs, &why);  // a reply queue is full: its consumer will make room
      } else if (inFlight_ >= cap_) {
        rc = ring_.Submit(bound, &why);  // the ring is full: requests wait in the inbox until an op completes
      } else if (Spin()) {
        continue;
      } else if (d_->inbox->PrepareToPark()) {
        parks_++;
        Publish();
        rc = ring_.Submit(bound, &why);  // an op completes, or a producer writes the eventfd (the poll completes)
        d_->inbox->Unparked();
        wakeups_++;
      }
      if (rc < 0) return Fail("io_uring_enter (waiting)", rc);
    }
  }


  // ---- port servers (io + exec): the sockets here, the handlers on exec drivers ----

  uint8_t* ArenaBase() { return d_->arenas[d_->tpc].base; }
  uint64_t ArenaBytes() { return d_->arenas[d_->tpc].bytes; }
  static uint32_t Key(unsigned server, uint16_t bid) { return (server << 16) | bid; }

  void OnNetSetup(const uint8_t* p, uint32_t len) {
    NetSetupMsg m;
    if (len < sizeof m) {
      d_->dropped++;
      return;
    }
    std::memcpy(&m, p, sizeof m);
    if (m.replyTo >= d_->endpoints.size()) {
      d_->dropped++;
      return;
    }
    if (m.gen != gen_) {
      d_->stale++;
      return;
    }
    NetSetupDoneMsg r{};
    r.kind = kKindNetSetupDone;
    r.driver = d_->driverId;
    r.callId = m.callId;
    r.ok = 1;
    std::string why;
    switch (m.op) {
      case kSetupListen: {
        int rc = Listen(m, &r, &why);
        if (rc < 0) {
          r.ok = 0;
          r.err = rc;
        }
        break;
      }
      case kSetupStart:
        if (!net_ || net_->Start(m.server, &why) < 0) r.ok = 0, r.err = -EINVAL;
        break;
      case kSetupStop:
        if (net_) net_->Stop(m.server, m.flags & kSetupCloseConns);
        break;
      case kSetupExecDied:
        ExecDied(m.died, m.diedGen);
        break;
      case kSetupExecJoined:  // a restarted exec driver attached, or the 9th and later of a port's
        if (m.died >= d_->endpoints.size()) {
          r.ok = 0, r.err = -EINVAL;
          break;
        }
        execGen_[m.died] = m.execGens[0];
        if (m.server < execs_.size() && std::find(execs_[m.server].begin(), execs_[m.server].end(), m.died) == execs_[m.server].end()) execs_[m.server].push_back(m.died);
        break;
      default:
        r.ok = 0;
        r.err = -EOPNOTSUPP;
    }
    Send(m.replyTo, &r, sizeof r);
  }

  int Listen(const NetSetupMsg& m, NetSetupDoneMsg* r, std::string* why) {
    if (!net_) {
      if (m.queuedBlock < 0 || static_cast<uint64_t>(m.queuedBlock) + uint64_t{m.slots} * 4 > ArenaBytes() || m.slots == 0) return -EINVAL;
      queuedBlock_ = static_cast<uint64_t>(m.queuedBlock);
      queuedSlots_ = m.slots;
      if (queuedBlock_ + uint64_t{m.slots} * 4 + kNetStatServers * NetEngine::kStatFields * 8 > ArenaBytes()) return -EINVAL;
      blocks_.push_back(queuedBlock_);
      HeldArena arena = d_->arenas[d_->tpc];
      net_ = std::make_unique<NetEngine>(&ring_, ArenaBase(), ArenaBytes(), &eventCount_[0], nullptr, 0,
                                         reinterpret_cast<uint32_t*>(ArenaBase() + queuedBlock_), m.slots, [this, arena](uint64_t blk) {
                                           auto it = std::find(blocks_.begin(), blocks_.end(), blk);
                                           if (it == blocks_.end()) return;
                                           blocks_.erase(it);
                                           ArenaFreeBlock(arena, blk);
                                         });
      net_->SetEventSink([this](const NetEvent& e) { OnNetEvent(e); });
      ring_.SetSink(net_.get());
    }
    ListenSpec spec;
    spec.udp = m.flags & kSetupUdp;
    std::memset(&spec.addr, 0, sizeof spec.addr);
    if (m.family == 6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&spec.addr);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(m.port);
      std::memcpy(&a->sin6_addr, m.addr, 16);
      spec.addrLen = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&spec.addr);
      a->sin_family = AF_INET;
      a->sin_port = htons(m.port);
      std::memcpy(&a->sin_addr, m.addr, 4);
      spec.addrLen = sizeof *a;
    }
    spec.backlog = m.backlog;
    spec.reusePort = m.flags & kSetupReusePort;
    spec.noDelay = m.flags & kSetupNoDelay;
    spec.rcvBuf = m.rcvBuf;
    spec.forceRcvBuf = m.flags & kSetupForceRcvBuf;
    spec.sndBuf = m.sndBuf;
    spec.bufBlock = static_cast<uint64_t>(m.bufBlock);
    spec.bufCount = m.bufCount;
    spec.bufSize = m.bufSize;
    spec.maxConnections = m.maxConnections;
    spec.highWater = m.highWater;
    spec.maxQueued = m.maxQueued;
    if (m.nSteerAll > 8) {  // a longer group: its CPUs in a block of the arena
      if (!(m.steerBlock >= 0) || static_cast<uint64_t>(m.steerBlock) + uint64_t{m.nSteerAll} * 2 > ArenaBytes()) return -EINVAL;
      const uint8_t* p = ArenaBase() + static_cast<uint64_t>(m.steerBlock);
      for (unsigned i = 0; i < m.nSteerAll; i++) {
        uint16_t cpu;
        std::memcpy(&cpu, p + 2 * i, 2);
        spec.steer.push_back(cpu);
      }
    } else {
      for (unsigned i = 0; i < m.nSteer && i < 8; i++) spec.steer.push_back(m.steer[i]);
    }
    if (m.nExecs == 0 || m.nExecs > 8) return -EINVAL;
    ListenResult out;
    int rc = net_->Listen(spec, &out, why);
    if (rc < 0) return rc;
    blocks_.push_back(spec.bufBlock);  // ours from here: freed when the server has drained, or after our ring's drain
    if (execs_.size() <= static_cast<size_t>(rc)) execs_.resize(rc + 1), rr_.resize(rc + 1), throttleAt_.resize(rc + 1);
    // A connection whose exec driver holds an eighth of the ring (at least 4) is not read until it gives some back.
    throttleAt_[rc] = std::max(4u, m.bufCount / 8);
    execs_[rc].assign(m.execs, m.execs + m.nExecs);
    rr_[rc] = 0;
    for (unsigned i = 0; i < m.nExecs; i++) execGen_[m.execs[i]] = m.execGens[i];
    r->server = rc;
    r->fd = out.fd;
    r->port = out.port;
    r->backlog = out.backlog;
    r->rcvBuf = out.rcvBuf;
    r->sndBuf = out.sndBuf;
    r->reusePort = out.reusePort;
    r->noDelay = out.noDelay;
    return 0;
  }

  // An event of the engine: to the exec driver that runs its connection (a
  // connection stays with the exec driver it was given at accept).
  void OnNetEvent(const NetEvent& e) {
    uint16_t ep;
    const bool lends = e.type == kEvData || e.type == kEvMessage;
    if (e.server >= execs_.size() || execs_[e.server].empty()) {
      // No exec driver runs this port now (they died; restarted ones are not attached yet): refuse.
      if (lends) net_->ReturnBuffer(e.server, e.bid);
      if (e.type == kEvOpen) net_->Refuse(e.server, e.conn);
      else if (e.type == kEvMessage) net_->Refuse(e.server, 0);
      return;
    }
    auto& ex = execs_[e.server];
    if (e.type == kEvMessage) {
      ep = ex[rr_[e.server]++ % ex.size()];
    } else if (e.type == kEvOpen) {
      ep = ex[rr_[e.server]++ % ex.size()];
      connExec_[e.conn] = ep;
    } else {
      auto it = connExec_.find(e.conn);
      if (it == connExec_.end()) {  // its exec driver died: nobody runs it any more
        if (lends) net_->ReturnBuffer(e.server, e.bid);
        return;
      }
      ep = it->second;
      if (e.type == kEvClose) connExec_.erase(it);
    }
    if (lends) {
      lentBy_[ep][Key(e.server, e.bid)] = e.type == kEvData ? e.conn : 0;
      if (e.type == kEvData && ++connLent_[e.conn] >= throttleAt_[e.server]) net_->Throttle(e.conn, true);
    }
    if (e.type == kEvClose) connLent_.erase(e.conn);
    NetEventMsg m{};
    m.kind = kKindNetEvent;
    m.type = e.type;
    m.driver = d_->driverId;
    m.conn = e.conn;
    m.len = e.len;
    m.aux = e.aux;
    m.bid = e.bid;
    m.server = e.server;
    m.gen = execGen_[ep];
    if (e.type == kEvOpen) {  // the exec driver cannot ask our socket: the peer travels with the open
      sockaddr_storage a{};
      socklen_t al = 0;
      if (net_->Peer(e.conn, &a, &al) == 0) {
        if (a.ss_family == AF_INET) {
          auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
          m.family = 4;
          m.peerPort = ntohs(v4->sin_port);
          std::memcpy(m.peer, &v4->sin_addr, 4);
        } else if (a.ss_family == AF_INET6) {
          auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
          m.family = 6;
          m.peerPort = ntohs(v6->sin6_port);
          std::memcpy(m.peer, &v6->sin6_addr, 16);
        }
      }
    }
    Send(ep, &m, sizeof m);
  }

  void OnNetCmd(const uint8_t* p, uint32_t len) {
    NetCmdMsg c;
    if (len < sizeof c || !net_) {
      d_->dropped++;
      return;
    }
    std::memcpy(&c, p, sizeof c);
    if (c.gen != gen_ || c.from >= d_->endpoints.size() || execGen_[c.from] != c.fromGen) {
      d_->stale++;  // for our predecessor, or from an exec driver that died since
      return;
    }
    netDirty_ = true;
    switch (c.op) {
      case kOpNetRelease: {
        auto& lent = lentBy_[c.from];
        auto it = lent.find(Key(c.server, c.bid));
        if (it == lent.end()) return;  // only what was lent to this exec driver: a buffer never goes back twice
        const uint32_t conn = it->second;
        lent.erase(it);
        net_->ReturnBuffer(c.server, c.bid);
        released_ = true;
        if (conn != 0) {
          auto cl = connLent_.find(conn);
          if (cl != connLent_.end() && cl->second > 0 && --cl->second == throttleAt_[c.server] / 2) net_->Throttle(conn, false);
        }
        return;
      }
      case kOpNetSend:
      case kOpNetSendTo: {
        if (!CopyStaged(c)) {
          d_->dropped++;
          return;
        }
        // (the staged bytes are consumed whatever happens: the sender's ring must move on)
        if (c.op == kOpNetSendTo) net_->SendTo(c.server, reinterpret_cast<const uint8_t*>(scratch_.data()), scratch_.size());
        else if (Runs(c.from, c.conn)) net_->QueueSend(c.conn, reinterpret_cast<const uint8_t*>(scratch_.data()), scratch_.size(), c.flags);
        else d_->stale++;
        return;
      }
      default:
        if (Runs(c.from, c.conn)) net_->ConnCommand(c.op, c.conn);
        return;
    }
  }

  // Exec driver `ep` runs connection `conn`: only it may write to it or
  // command it (a command for a connection closed since, whose id may name
  // another one now, or another exec driver's, goes nowhere).
  bool Runs(uint16_t ep, uint32_t conn) const {
    auto it = connExec_.find(conn);
    return it != connExec_.end() && it->second == ep;
  }

  // The bytes of a send, out of the sender's staging ring (they may wrap);
  // then the ring's space is the sender's again.
  bool CopyStaged(const NetCmdMsg& c) {
    if (c.staging < 0 || static_cast<uint64_t>(c.staging) + sizeof(StagingHeader) > ArenaBytes()) return false;
    auto* h = reinterpret_cast<StagingHeader*>(ArenaBase() + static_cast<uint64_t>(c.staging));
    const uint64_t size = h->size;
    if (size == 0 || static_cast<uint64_t>(c.staging) + sizeof(StagingHeader) + size > ArenaBytes() || c.len > size) return false;
    staging_[c.from] = static_cast<uint64_t>(c.staging);
    const uint8_t* data = reinterpret_cast<const uint8_t*>(h) + sizeof(StagingHeader);
    const uint64_t pos = static_cast<uint64_t>(c.pos), at = pos % size;
    const uint64_t first = std::min<uint64_t>(c.len, size - at);
    scratch_.assign(reinterpret_cast<const char*>(data + at), first);
    if (first < c.len) scratch_.append(reinterpret_cast<const char*>(data), c.len - first);
    __atomic_store_n(&h->consumed, pos + c.len, __ATOMIC_RELEASE);
    return true;
  }

  // An exec driver died: the connections it ran are closed, the buffers lent
  // to it come back, its staging ring starts over for its successor.
  void ExecDied(uint16_t ep, uint16_t newGen) {
    if (ep >= d_->endpoints.size()) return;
    execGen_[ep] = newGen;
    // Routed to nobody until its successor has attached (ExecJoined): its
    // inbox would get events it cannot run, and their buffers would not come back.
    for (auto& ex : execs_) ex.erase(std::remove(ex.begin(), ex.end(), ep), ex.end());
    if (!net_) return;
    std::vector<uint32_t> conns;
    for (auto& [conn, e] : connExec_)
      if (e == ep) conns.push_back(conn);
    for (uint32_t conn : conns) connExec_.erase(conn);  // first: their close events then go nowhere
    for (uint32_t conn : conns) net_->CloseConnection(conn, -ECONNABORTED);
    for (auto& [k, conn] : lentBy_[ep]) {
      net_->ReturnBuffer(k >> 16, static_cast<uint16_t>(k & 0xffff));
      connLent_.erase(conn);
    }
    lentBy_[ep].clear();
    net_->RearmStarved();
    auto st = staging_.find(ep);
    if (st != staging_.end()) {
      auto* h = reinterpret_cast<StagingHeader*>(ArenaBase() + st->second);
      h->written = 0;
      __atomic_store_n(&h->consumed, 0, __ATOMIC_RELEASE);
    }
  }

  // After the inbox's commands: sends go out, one per connection (the cork);
  // the connections that ran dry re-arm if buffers came back.
  void NetTurn() {
    if (!net_ || !netDirty_) return;
    netDirty_ = false;
    if (released_) net_->RearmStarved();
    released_ = false;
    net_->Flush();
  }

  // Our ring has drained (or timed out): the sockets go, and the blocks that were ours.
  void NetClose(bool drained) {
    if (!net_) return;
    ring_.SetSink(nullptr);
    if (!drained) {
      net_.release();  // the kernel may still read send buffers: leaked, like the arenas
      return;
    }
    net_.reset();
    if (!d_->stop.load(std::memory_order_acquire)) {
      // A death, not a stop: exec drivers may still have our events (views of
      // these buffers) and read our queue sizes until they take the death in.
      d_->orphans = std::move(blocks_);
      blocks_.clear();
      return;
    }
    for (uint64_t b : blocks_) ArenaFreeBlock(d_->arenas[d_->tpc], b);
    blocks_.clear();
  }

  void Fail(const char* what, int rc) { d_->failure = std::string(what) + ": " + std::strerror(-rc); }

  // The loop stopped on its own: say so where routing looks (Alive 0) and
  // tell the main thread, which rejects what was sent to us and restarts us.
  void Exited() {
    std::atomic_ref<double>(d_->stats[kStatAlive]).store(0, std::memory_order_seq_cst);
    DriverExitedMsg m{kKindDriverExited, static_cast<uint8_t>(d_->drained ? 1 : 0), d_->driverId, 0};
    QueueRef& main = d_->endpoints[0];
    // The main thread always drains its inbox; a full one empties soon.
    for (int i = 0; i < 20000 && !main.TryPush(&m, sizeof m); i++) usleep(100);
    main.WakeIfParked();
  }

  // Polls inbox and ring for spinNs before parking; true when work showed up.
  bool Spin() {
    if (d_->spinNs <= 0) return false;
    const int64_t until = NowNs() + d_->spinNs;
    do {
      if (!d_->inbox->IsEmpty() || ((inFlight_ > 0 || net_) && ring_.More())) return true;
      CpuRelax();
    } while (NowNs() < until && !d_->stop.load(std::memory_order_relaxed));
    return false;
  }

  // A multishot POLL_ADD on the inbox eventfd: a producer's wakeup (and
  // ioDriverStop's) becomes a CQE, which ends our wait in io_uring_enter.
  int ArmPoll(std::string* why) {
    io_uring_sqe* sqe = ring_.Sqe(why);
    if (!sqe) return -EBUSY;
    io_uring_prep_poll_multishot(sqe, d_->eventfd, POLLIN);
    sqe->user_data = kPollTag;
    return 0;
  }

  unsigned ReapAll() {
    unsigned total = 0, n;
    while ((n = ring_.Reap(cpl_.data(), static_cast<unsigned>(cpl_.size()))) > 0) {
      for (unsigned i = 0; i < n; i++) OnCompletion(cpl_[i]);
      total += n;
    }
    return total;
  }

  void OnCompletion(const RingCompletion& c) {
    const uint64_t ud = static_cast<uint64_t>(c.userData);
    if (ud == kPollTag) {
      uint64_t count;
      while (read(d_->eventfd, &count, sizeof count) < 0 && errno == EINTR) {  // non-blocking: drains it
      }
      if (c.flags & IORING_CQE_F_MORE) return;
      // The kernel ended the multishot poll (CQ overflow, or an error): re-arm it.
      std::string why;
      if (c.res < 0 && c.res != -ECANCELED) {
        if (!pollBroken_) {
          std::fprintf(stderr, "gatio: io driver %u: polling its inbox eventfd failed (%s); falling back to 1 ms sleeps\n",
                       d_->driverId, std::strerror(-c.res));
        }
        pollBroken_ = true;
      } else if (!d_->stop.load(std::memory_order_relaxed)) {
        ArmPoll(&why);
      }
      return;
    }
    if (ud >= ops_.size()) return;  // not ours (cannot happen: Ring::Reap hides its own tags)
    const Op op = ops_[ud];
    free_.push_back(static_cast<uint32_t>(ud));
    inFlight_--;
    completed_++;
    Reply(op, c.res, c.flags);
  }

  // One request, copied out of the slot once and checked on the copy (the
  // producer could still scribble on shared memory; the copy is what we use).
  void OnRequest(const uint8_t* p, uint32_t len) {
    if (len >= 1 && p[0] == kKindNetCmd) return OnNetCmd(p, len);
    if (len >= 1 && p[0] == kKindNetSetup) return OnNetSetup(p, len);
    IoRequestMsg r;
    if (len < sizeof r || p[0] != kKindIoRequest) {
      d_->dropped++;
      return;
    }
    std::memcpy(&r, p, sizeof r);
    if (r.replyTo >= d_->endpoints.size() || !WholeIn(r.callId, 0, kMaxSafeInteger)) {
      d_->dropped++;  // no one to answer
      return;
    }
    if (r.gen != gen_) {
      d_->stale++;  // sent to a predecessor that died: its requester has been told
      return;
    }
    int err = Prepare(r);
    if (err < 0) Reply({r.callId, r.block, r.replyTo, r.bufArena, r.op}, err, 0);
  }

  // Queues the request's SQE: 0, or a negated errno to answer with.
  int Prepare(const IoRequestMsg& r) {
    uint8_t* buf = nullptr;
    if (r.op == kOpRead || r.op == kOpWrite || r.op == kOpOpenat) {
      if (r.bufArena >= d_->arenas.size() || !WholeIn(r.buf, 0, kMaxSafeInteger)) return -EFAULT;
      const HeldArena& a = d_->arenas[r.bufArena];
      if (static_cast<uint64_t>(r.buf) + r.len > a.bytes) return -EFAULT;
      buf = a.base + static_cast<uint64_t>(r.buf);
    }
    switch (r.op) {
      case kOpOpenat:
        if (r.len == 0 || buf[r.len - 1] != 0) return -EINVAL;  // the path must end with its NUL inside [buf, buf + len)
        break;
      case kOpRead:
      case kOpWrite:
        if (!WholeIn(r.off, -1, kMaxSafeInteger)) return -EINVAL;
        break;
      case kOpNop:
      case kOpClose:
      case kOpFsync:
        break;
      default:
        return -EOPNOTSUPP;
    }
    std::string why;
    io_uring_sqe* sqe = ring_.Sqe(&why);
    if (!sqe) return -EBUSY;
    const uint64_t off = r.off < 0 ? ~0ull : static_cast<uint64_t>(r.off);  // ~0: the file position
    switch (r.op) {
      case kOpNop: io_uring_prep_nop(sqe); break;
      case kOpOpenat: io_uring_prep_openat(sqe, r.fd, reinterpret_cast<const char*>(buf), static_cast<int>(r.flags), r.mode); break;
      case kOpClose: io_uring_prep_close(sqe, r.fd); break;
      case kOpRead: io_uring_prep_read(sqe, r.fd, buf, r.len, off); break;
      case kOpWrite: io_uring_prep_write(sqe, r.fd, buf, r.len, off); break;
      case kOpFsync: io_uring_prep_fsync(sqe, r.fd, r.flags & IORING_FSYNC_DATASYNC); break;
    }
    const uint32_t slot = free_.back();  // cap_ bounds inFlight_, so a slot is free
    free_.pop_back();
    ops_[slot] = {r.callId, r.block, r.replyTo, r.bufArena, r.op};
    sqe->user_data = slot;
    inFlight_++;
    return 0;
  }

  // Completions are never dropped: a full reply queue keeps them here, in
  // order, until its consumer makes room (Flush retries every turn).
  void Reply(const Op& op, int32_t res, uint32_t flags) {
    const IoDoneMsg m{kKindIoDone, op.op, d_->driverId, res, op.callId, flags, op.bufArena, 0, op.block};
    Send(op.replyTo, &m, sizeof m);
  }

  void Send(uint16_t ep, const void* m, uint32_t len) {
    if (backlog_[ep].empty() && d_->endpoints[ep].TryPush(m, len)) {
      MarkDirty(ep);
      return;
    }
    Blob b;
    std::memcpy(b.bytes, m, len);
    b.len = len;
    backlog_[ep].push_back(b);
    backlogged_++;
  }

  void MarkDirty(uint16_t ep) {
    if (dirty_[ep]) return;
    dirty_[ep] = 1;
    dirtyList_.push_back(ep);
  }

  // Retries backlogged replies, then wakes each endpoint pushed to (only a
  // parked one costs a syscall: QueueRef::WakeIfParked).
  void Flush() {
    if (backlogged_ > 0) {
      for (uint16_t ep = 0; ep < backlog_.size(); ep++) {
        auto& list = backlog_[ep];
        while (!list.empty() && d_->endpoints[ep].TryPush(list.front().bytes, list.front().len)) {
          list.pop_front();
          backlogged_--;
          MarkDirty(ep);
        }
      }
    }
    for (uint16_t ep : dirtyList_) {
      d_->endpoints[ep].WakeIfParked();
      dirty_[ep] = 0;
    }
    dirtyList_.clear();
  }

  void Publish() {
    if (net_) net_->WriteStats(reinterpret_cast<double*>(ArenaBase() + queuedBlock_ + uint64_t{queuedSlots_} * 4), kNetStatServers);
    auto set = [&](unsigned i, double v) { std::atomic_ref<double>(d_->stats[i]).store(v, std::memory_order_relaxed); };
    set(kStatPending, static_cast<double>(inFlight_ + backlogged_));
    set(kStatParks, static_cast<double>(parks_));
    set(kStatWakeups, static_cast<double>(wakeups_));
    set(kStatTurns, static_cast<double>(turns_));
    set(kStatMessages, static_cast<double>(messages_));
    set(kStatRingSubmissions, static_cast<double>(ring_.stats().submitted));
    set(kStatRingCompletions, static_cast<double>(completed_));  // ops only, not the eventfd poll's
    set(kStatTid, static_cast<double>(tid_));
    set(kStatCpu, static_cast<double>(sched_getcpu()));
    set(kStatUpdated, static_cast<double>(
                          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count()));
  }

  IoDriver* d_;
  Ring ring_;
  unsigned cap_ = 0;        // user ops the ring may have in flight
  uint16_t gen_ = 0;        // our inbox's generation (low 16 bits), read as we start serving
  unsigned inFlight_ = 0;   // user ops submitted or queued, not yet completed
  std::vector<Op> ops_;     // by slot (= user_data)
  std::vector<uint32_t> free_;
  // A reply or event waiting for room in its endpoint's queue, copied.
  struct Blob {
    uint8_t bytes[64];
    uint32_t len;
  };
  std::vector<std::deque<Blob>> backlog_;  // by endpoint
  size_t backlogged_ = 0;
  std::vector<uint8_t> dirty_;
  std::vector<uint16_t> dirtyList_;
  std::vector<RingCompletion> cpl_;
  bool pollBroken_ = false;
  // port servers (OnNetSetup ...)
  std::unique_ptr<NetEngine> net_;
  uint32_t eventCount_[2] = {0, 0};  // unused in remote mode (events go to OnNetEvent)
  uint64_t queuedBlock_ = 0;  // then, after the slots, the servers' stats (WriteStats)
  uint32_t queuedSlots_ = 0;
  static constexpr unsigned kNetStatServers = 32;  // servers whose stats are published
  std::vector<uint64_t> blocks_;  // arena blocks that are ours: buffer rings, the queued-bytes array
  std::vector<std::vector<uint16_t>> execs_;  // by server: the exec endpoints its connections go to
  std::vector<unsigned> rr_;
  std::unordered_map<uint32_t, uint16_t> connExec_;  // connection -> its exec endpoint
  std::unordered_map<uint16_t, std::unordered_map<uint32_t, uint32_t>> lentBy_;  // exec endpoint -> buffer lent to it -> its connection (0: a datagram)
  std::unordered_map<uint32_t, unsigned> connLent_;  // connection -> buffers of it its exec driver holds
  std::vector<unsigned> throttleAt_;                 // by server: that many held buffers stop a connection's reads
  std::unordered_map<uint16_t, uint16_t> execGen_;   // exec endpoint -> the generation events are stamped with
  std::unordered_map<uint16_t, uint64_t> staging_;   // exec endpoint -> its staging ring
  std::string scratch_;
  bool netDirty_ = false, released_ = false;
  uint64_t parks_ = 0, wakeups_ = 0, turns_ = 0, messages_ = 0, completed_ = 0;
  pid_t tid_ = gettid();  // Loop is constructed on its thread
};

void* ThreadMain(void* arg) {
  auto* d = static_cast<IoDriver*>(arg);
  char name[16];
  std::snprintf(name, sizeof name, "gatio-io%u", unsigned{d->driverId});
  pthread_setname_np(pthread_self(), name);
  // Everything the loop allocates (ring, tables) is allocated here, pinned, so first touch puts it on our node.
  try {
    Loop loop(d);
    loop.Run();
  } catch (const std::exception& e) {  // allocation failure during setup
    std::lock_guard<std::mutex> lock(d->mu);
    if (!d->reported) {
      d->initErr = ENOMEM;
      d->initWhy = std::string("setting up: ") + e.what();
      d->reported = true;
      d->cv.notify_all();
    } else {
      d->failure = e.what();
    }
  }
  return nullptr;
}

// ---- registry and binding -------------------------------------------------

struct Registry {
  std::mutex mu;
  std::unordered_map<uint32_t, IoDriver*> byHandle;
  uint32_t next = 1;
};
Registry& registry() {
  static Registry* r = new Registry;  // leaked on purpose: threads may outlive static destructors
  return *r;
}

// Stops the thread and joins it. If ops were still running at the
// deadline, leaks the arena holds (the kernel may still write there).
void StopAndJoin(IoDriver* d) {
  d->stop.store(true, std::memory_order_seq_cst);
  while (eventfd_write(d->eventfd, 1) != 0 && errno == EINTR) {  // ends its wait: the poll completes
  }
  pthread_join(d->thread, nullptr);
  if (!d->drained) {
    for (const HeldArena& a : d->arenas) ArenaKeepForKernel(a);
  }
}

void OnEnvTeardown(void* arg) {
  auto* d = static_cast<IoDriver*>(arg);
  {
    std::lock_guard<std::mutex> lock(registry().mu);
    registry().byHandle.erase(d->handle);
  }
  StopAndJoin(d);
  delete d;
}

constexpr const char* kStart = "ioDriverStart";

// The formatted queue at `offset` of arena `tpc` (already range-checked), or a clear error.
QueueRef QueueAt(Napi::Env env, const IoDriver& d, double tpc, double offset, const std::string& what) {
  const HeldArena& a = d.arenas[static_cast<size_t>(tpc)];
  uint64_t off = static_cast<uint64_t>(offset);
  const char* why = off < a.bytes ? QueueRef::Check(a.base + off, a.bytes - off) : "the offset is outside the arena";
  if (why) throw Napi::Error::New(env, "ioDriverStart: " + what + " at offset " + std::to_string(off) + ": " + why);
  return QueueRef::Attach(a.base + off, a.bytes - off);
}

// ioDriverStart({ arenaIds, tpc, inboxOffset, eventfd, pu, statsOffset,
//   ringEntries, endpoints: [{ tpc, offset }], driver?, spinUs? })
//   -> { handle, tid, cpu, mode, sqEntries, cqEntries, maxInFlight }
// Returns once the thread has set its ring up (or throws why it could not).
Napi::Value IoDriverStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "ioDriverStart: expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto d = std::make_unique<IoDriver>();

  Napi::Value ids = o.Get("arenaIds");
  if (!ids.IsArray() || ids.As<Napi::Array>().Length() == 0) throw Napi::TypeError::New(env, "ioDriverStart: arenaIds must be a non-empty array of arena ids");
  Napi::Array idList = ids.As<Napi::Array>();
  for (uint32_t i = 0; i < idList.Length(); i++) {
    uint64_t id = static_cast<uint64_t>(WholeNumber(idList.Get(i), kStart, ("arenaIds[" + std::to_string(i) + "]").c_str(), 0, UINT32_MAX));
    d->arenas.push_back(ArenaHold(env, id, kStart));
  }
  const double lastTpc = static_cast<double>(d->arenas.size() - 1);
  const double tpc = WholeNumber(o.Get("tpc"), kStart, "tpc", 0, lastTpc);
  const HeldArena& own = d->arenas[static_cast<size_t>(tpc)];
  d->tpc = static_cast<unsigned>(tpc);
  d->inbox = QueueAt(env, *d, tpc, WholeNumber(o.Get("inboxOffset"), kStart, "inboxOffset", 0, kMaxSafeInteger), "the inbox");
  d->eventfd = static_cast<int>(WholeNumber(o.Get("eventfd"), kStart, "eventfd", 0, INT_MAX));
  d->pu = static_cast<int>(WholeNumber(o.Get("pu"), kStart, "pu", 0, CPU_SETSIZE - 1));
  const double statsOffset = WholeNumber(o.Get("statsOffset"), kStart, "statsOffset", 0, kMaxSafeInteger);
  if (static_cast<uint64_t>(statsOffset) % 8 != 0 || statsOffset + kStatSlots * 8 > static_cast<double>(own.bytes)) {
    throw Napi::RangeError::New(env, "ioDriverStart: statsOffset " + std::to_string(static_cast<uint64_t>(statsOffset)) +
                                         " is not an 8-byte aligned block of " + std::to_string(kStatSlots * 8) + " bytes inside arena " +
                                         std::to_string(static_cast<int>(tpc)));
  }
  d->stats = reinterpret_cast<double*>(own.base + static_cast<uint64_t>(statsOffset));
  d->ringEntries = static_cast<unsigned>(WholeField(o, kStart, "ringEntries", 1, 32768, 256));
  d->driverId = static_cast<uint16_t>(WholeField(o, kStart, "driver", 0, 65535, 0));
  d->spinNs = static_cast<int64_t>(WholeField(o, kStart, "spinUs", 0, 1e6, 0) * 1000);
  Napi::Value eps = o.Get("endpoints");
  if (!eps.IsArray()) throw Napi::TypeError::New(env, "ioDriverStart: endpoints must be an array of { tpc, offset } (every endpoint's inbox)");
  Napi::Array epList = eps.As<Napi::Array>();
  if (epList.Length() > 65536) throw Napi::RangeError::New(env, "ioDriverStart: more than 65536 endpoints");
  for (uint32_t i = 0; i < epList.Length(); i++) {
    const std::string name = "endpoints[" + std::to_string(i) + "]";
    Napi::Value e = epList.Get(i);
    if (!e.IsObject()) throw Napi::TypeError::New(env, "ioDriverStart: " + name + " must be { tpc, offset }");
    Napi::Object eo = e.As<Napi::Object>();
    d->endpoints.push_back(QueueAt(env, *d, WholeNumber(eo.Get("tpc"), kStart, (name + ".tpc").c_str(), 0, lastTpc),
                                   WholeNumber(eo.Get("offset"), kStart, (name + ".offset").c_str(), 0, kMaxSafeInteger), name));
  }

  // Pinned from its first instruction: the affinity is in the attributes.
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(d->pu, &set);
  int rc = pthread_attr_setaffinity_np(&attr, sizeof set, &set);
  if (rc == 0) rc = pthread_create(&d->thread, &attr, ThreadMain, d.get());
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    ThrowErrno(env, "ioDriverStart: cannot start a thread pinned to PU " + std::to_string(d->pu) +
                        (rc == EINVAL ? " (is that CPU allowed for this process?)" : ""),
               rc);
  }
  {
    std::unique_lock<std::mutex> lock(d->mu);
    d->cv.wait(lock, [&] { return d->reported; });
  }
  if (d->initErr != 0) {
    pthread_join(d->thread, nullptr);
    ThrowErrno(env, "ioDriverStart: io driver " + std::to_string(d->driverId) + " on PU " + std::to_string(d->pu) + ": " + d->initWhy, d->initErr);
  }

  IoDriver* raw = d.release();
  raw->env = env;
  {
    std::lock_guard<std::mutex> lock(registry().mu);
    raw->handle = registry().next++;
    registry().byHandle[raw->handle] = raw;
  }
  napi_add_env_cleanup_hook(env, OnEnvTeardown, raw);

  Napi::Object out = Napi::Object::New(env);
  out.Set("handle", Napi::Number::New(env, raw->handle));
  out.Set("tid", Napi::Number::New(env, raw->tid));
  out.Set("cpu", Napi::Number::New(env, raw->cpu));
  out.Set("mode", Napi::String::New(env, TaskRunName(raw->mode)));
  out.Set("sqEntries", Napi::Number::New(env, raw->sqEntries));
  out.Set("cqEntries", Napi::Number::New(env, raw->cqEntries));
  out.Set("maxInFlight", Napi::Number::New(env, raw->maxInFlight));
  return out;
}

// ioDriverStop(handle) -> { drained, dropped, stale, failure, orphans }: stops the thread
// (it cancels and drains everything in flight first) and joins it.
Napi::Value IoDriverStop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t h = static_cast<uint32_t>(WholeNumber(info[0], "ioDriverStop", "handle", 0, UINT32_MAX));
  IoDriver* d = nullptr;
  {
    std::lock_guard<std::mutex> lock(registry().mu);
    auto it = registry().byHandle.find(h);
    if (it == registry().byHandle.end()) {
      throw Napi::Error::New(env, "ioDriverStop: no io driver with handle " + info[0].ToString().Utf8Value() + " (never started, or already stopped)");
    }
    if (it->second->env != static_cast<napi_env>(env)) {
      throw Napi::Error::New(env, "ioDriverStop: io driver " + std::to_string(it->second->driverId) +
                                      " was started by another JS thread; stop it from that thread");
    }
    d = it->second;
    registry().byHandle.erase(it);
  }
  napi_remove_env_cleanup_hook(env, OnEnvTeardown, d);
  StopAndJoin(d);
  Napi::Object out = Napi::Object::New(env);
  out.Set("drained", Napi::Boolean::New(env, d->drained));
  out.Set("dropped", Napi::Number::New(env, static_cast<double>(d->dropped)));
  out.Set("stale", Napi::Number::New(env, static_cast<double>(d->stale)));
  out.Set("failure", d->failure.empty() ? env.Null() : Napi::String::New(env, d->failure));
  Napi::Array orphans = Napi::Array::New(env, d->orphans.size());
  for (size_t i = 0; i < d->orphans.size(); i++) orphans.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(d->orphans[i])));
  out.Set("orphans", orphans);
  delete d;
  return out;
}

// ioDriverFault(handle): fault injection for tests. The driver's loop stops
// as it does on a failure (a corrupt queue, a ring error): it drains its
// ring, clears Alive and tells the main thread, which restarts it.
Napi::Value IoDriverFault(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t h = static_cast<uint32_t>(WholeNumber(info[0], "ioDriverFault", "handle", 0, UINT32_MAX));
  std::lock_guard<std::mutex> lock(registry().mu);
  auto it = registry().byHandle.find(h);
  if (it == registry().byHandle.end()) throw Napi::Error::New(env, "ioDriverFault: no io driver with handle " + std::to_string(h));
  it->second->fault.store(true, std::memory_order_release);
  while (eventfd_write(it->second->eventfd, 1) != 0 && errno == EINTR) {
  }
  return env.Undefined();
}

}  // namespace

void InitIoDriver(Napi::Env env, Napi::Object exports) {
  exports.Set("ioDriverFault", Napi::Function::New(env, IoDriverFault, "ioDriverFault"));
  exports.Set("ioDriverStart", Napi::Function::New(env, IoDriverStart, "ioDriverStart"));
  exports.Set("ioDriverStop", Napi::Function::New(env, IoDriverStop, "ioDriverStop"));
}

}  // namespace gatio
