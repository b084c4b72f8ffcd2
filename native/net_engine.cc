// The port servers of one ring (see net_engine.h for who owns what).
#include "net_engine.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <atomic>
#include <cstring>
#include <fstream>

namespace gatio {

namespace {
// user_data of our ops: 0x4 in the top nibble (never a JS userData, which
// stays below 2^53, nor the ring's own drain tag), the op's kind, the
// server, and the connection id (or a UDP send's index).
constexpr uint64_t kTag = 0x4ull << 60;
enum UdKind : uint64_t { kUdAccept = 1, kUdRecv = 2, kUdSend = 3, kUdCancel = 4, kUdBackoff = 5, kUdRecvMsg = 6, kUdSendMsg = 7 };
constexpr uint64_t Ud(UdKind k, unsigned server, uint32_t id) { return kTag | (uint64_t{k} << 52) | (uint64_t{server} << 40) | id; }
constexpr UdKind KindOf(uint64_t ud) { return static_cast<UdKind>((ud >> 52) & 0xF); }
constexpr unsigned ServerOf(uint64_t ud) { return (ud >> 40) & 0xFF; }
constexpr uint32_t IdOf(uint64_t ud) { return static_cast<uint32_t>(ud); }

constexpr unsigned kSlotBits = 20;
constexpr uint32_t kSlotMask = (1u << kSlotBits) - 1;
constexpr int64_t kBackoffNs = 50 * 1000000LL;  // EMFILE/ENFILE: try accepting again after 50 ms
// UDP: the sockaddr area of each received buffer (the kernel writes the peer there, then the payload).
constexpr unsigned kUdpNameLen = sizeof(sockaddr_in6);
constexpr unsigned kUdpPayloadAt = sizeof(io_uring_recvmsg_out) + kUdpNameLen;
// kOpNetSendTo: the staged record is a 32-byte address slot (sockaddr bytes, u32 length at 28), then the payload.
constexpr unsigned kSendToHeader = 32;

int SoMaxConn() {
  std::ifstream f("/proc/sys/net/core/somaxconn");
  int v = 0;
  if (f >> v && v > 0) return v;
  return 4096;
}

// The classic BPF program of CPU steering: A = the receiving CPU; for each
// socket i of the group, "if A == cpu[i] return i"; otherwise A % n.
int AttachSteering(int fd, const std::vector<int>& cpus) {
  std::vector<sock_filter> prog;
  prog.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_CPU)));
  for (size_t i = 0; i < cpus.size(); i++) {
    prog.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(cpus[i]), 0, 1));
    prog.push_back(BPF_STMT(BPF_RET | BPF_K, static_cast<uint32_t>(i)));
  }
  prog.push_back(BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, static_cast<uint32_t>(cpus.size())));
  prog.push_back(BPF_STMT(BPF_RET | BPF_A, 0));
  sock_fprog fp{static_cast<unsigned short>(prog.size()), prog.data()};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fp, sizeof fp) == 0 ? 0 : -errno;
}

int GetInt(int fd, int level, int opt) {
  int v = 0;
  socklen_t l = sizeof v;
  return getsockopt(fd, level, opt, &v, &l) == 0 ? v : -1;
}
}  // namespace

struct NetEngine::Conn {
  uint32_t id = 0;  // slot | generation << 20; 0 while the slot is free
  uint8_t server = 0;
  int fd = -1;
  unsigned ops = 0;          // our SQEs whose last completion has not been reaped
  bool open = false;         // JS may still use it (no kEvClose yet)
  bool closing = false;      // closed: waiting for ops to drain before the fd and slot go
  bool recvArmed = false, sendInFlight = false, paused = false, eof = false;
  bool throttled = false;  // its handlers hold too many of its buffers (Throttle)
  bool ending = false, shutDown = false, wantDrain = false, dirty = false;
  std::string sending;  // read by the kernel while sendInFlight: never touched then
  size_t sent = 0;      // bytes of `sending` already sent
  std::string queued;   // what JS wrote since `sending` was handed over
};

struct NetEngine::Server {
  bool used = false;
  bool udp = false;
  int fd = -1;
  unsigned index = 0;
  unsigned ops = 0;  // accept / recvmsg / backoff / sendmsg in flight
  bool armed = false, backoff = false, started = false, stopping = false, starved = false;
  bool needsArm = false;  // its accept (or its backoff timer) found no SQE: tried again after each reap
  unsigned conns = 0;  // connection slots still held (open or draining)
  ListenSpec spec;
  io_uring_buf_ring* br = nullptr;
  bool brRegistered = false;
  unsigned mask = 0;
  std::vector<uint32_t> starvedConns;  // ids whose recv ended with ENOBUFS
  msghdr msg{};                        // UDP recvmsg template (names and lengths only)
  NetServerStats st;
  uint8_t* Buffer(uint8_t* base, uint16_t bid) const {
    return base + spec.bufBlock + uint64_t{spec.bufCount} * sizeof(io_uring_buf) + uint64_t{bid} * spec.bufSize;
  }
};

struct NetEngine::UdpSend {
  msghdr msg{};
  iovec iov{};
  sockaddr_storage addr{};
  std::string data;
  uint8_t server = 0;
};

NetEngine::NetEngine(Ring* ring, uint8_t* base, uint64_t bytes, uint32_t* eventCount, NetEvent* events, unsigned cap, uint32_t* queuedBytes,
                     unsigned maxSlots, std::function<void(uint64_t)> freeBlock)
    : ring_(ring),
      base_(base),
      bytes_(bytes),
      eventCount_(eventCount),
      events_(events),
      cap_(cap),
      freeBlock_(std::move(freeBlock)),
      queuedBytes_(queuedBytes),
      maxSlots_(maxSlots) {
  eventCount_[0] = 0;
  eventCount_[1] = 0;
}

NetEngine::~NetEngine() {
  // The ring has been closed: every op completed (or the owner leaked the
  // arena for good). Only the fds are left to close.
  for (auto& c : conns_)
    if (c && c->fd >= 0) ::close(c->fd);
  for (auto& s : servers_)
    if (s && s->fd >= 0) ::close(s->fd);
}

io_uring_sqe* NetEngine::Sqe() {
  std::string why;
  return ring_->Sqe(&why);  // nullptr only when the kernel takes no more SQEs at all
}

void NetEngine::Emit(uint8_t type, uint8_t server, uint32_t conn, uint16_t bid, uint32_t len, int32_t aux) {
  if (closing_) return;  // the ring is being torn down: nobody reads events any more
  NetEvent e{type, server, bid, conn, len, aux};
  if (sink_) return sink_(e);
  if (count_ >= cap_ || !overflow_.empty()) {
    overflow_.push_back(e);
    return;
  }
  events_[count_++] = e;
  __atomic_store_n(eventCount_, count_, __ATOMIC_RELEASE);
}

void NetEngine::ResetEvents() {
  // JS wrote how many it handled at eventCount_[1]; the rest (made by a
  // submit after it looked) move to the front.
  unsigned done = std::min(__atomic_load_n(eventCount_ + 1, __ATOMIC_ACQUIRE), count_);
  if (done < count_) std::memmove(events_, events_ + done, size_t{count_ - done} * sizeof(NetEvent));
  count_ -= done;
  eventCount_[1] = 0;
  while (!overflow_.empty() && count_ < cap_) {
    events_[count_++] = overflow_.front();
    overflow_.pop_front();
  }
  __atomic_store_n(eventCount_, count_, __ATOMIC_RELEASE);
}

// ---- listen ----------------------------------------------------------------

int NetEngine::Listen(const ListenSpec& spec, ListenResult* out, std::string* why) {
  unsigned idx = 0;
  while (idx < servers_.size() && servers_[idx] && servers_[idx]->used) idx++;
  if (idx >= 255) {
    *why = "255 port servers on one driver";
    return -EMFILE;
  }
  if (spec.bufCount == 0 || (spec.bufCount & (spec.bufCount - 1)) || spec.bufCount > 32768) {
    *why = "buffers.count must be a power of two in 1..32768";
    return -EINVAL;
  }
  uint64_t need = uint64_t{spec.bufCount} * sizeof(io_uring_buf) + uint64_t{spec.bufCount} * spec.bufSize;
  if (spec.bufBlock % 4096 || spec.bufBlock + need > bytes_) {
    *why = "the buffer block is not a page-aligned range of the arena";
    return -EINVAL;
  }
  auto s = std::make_unique<Server>();
  s->used = true;
  s->udp = spec.udp;
  s->index = idx;
  s->spec = spec;
  const int family = spec.addr.ss_family;
  int fd = ::socket(family, (spec.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *why = "socket()";
    return -errno;
  }
  auto fail = [&](const char* what) {
    int e = errno;
    ::close(fd);
    *why = what;
    return -e;
  };
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) return fail("setsockopt(SO_REUSEADDR)");
  if (spec.reusePort && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) return fail("setsockopt(SO_REUSEPORT)");
  // "::" serves IPv4 too (node:net's default), whatever net.ipv6.bindv6only says.
  if (spec.addr.ss_family == AF_INET6) {
    int off = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  // The runtime's UDP default goes past net.core.rmem_max where the process may (CAP_NET_ADMIN);
  // a size the user asked for gets the kernel's usual clamp. The effective size is in the fingerprint.
  if (spec.rcvBuf > 0 && !(spec.forceRcvBuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &spec.rcvBuf, sizeof spec.rcvBuf) == 0) &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &spec.rcvBuf, sizeof spec.rcvBuf) < 0)
    return fail("setsockopt(SO_RCVBUF)");
  if (spec.sndBuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &spec.sndBuf, sizeof spec.sndBuf) < 0) return fail("setsockopt(SO_SNDBUF)");
  if (!spec.udp && spec.noDelay && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) return fail("setsockopt(TCP_NODELAY)");
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&spec.addr), spec.addrLen) < 0) return fail("bind()");
  if (!spec.udp && ::listen(fd, spec.backlog) < 0) return fail("listen()");
  if (!spec.steer.empty()) {
    int e = AttachSteering(fd, spec.steer);
    if (e < 0) {
      errno = -e;
      return fail("setsockopt(SO_ATTACH_REUSEPORT_CBPF)");
    }
  }

  // The buffer ring: our own memory (an arena block), registered by hand;
  // liburing 2.3 has no io_uring_setup_buf_ring.
  s->br = reinterpret_cast<io_uring_buf_ring*>(base_ + spec.bufBlock);
  io_uring_buf_ring_init(s->br);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(s->br);
  reg.ring_entries = spec.bufCount;
  reg.bgid = static_cast<uint16_t>(idx);
  int rc = io_uring_register_buf_ring(ring_->raw(), &reg, 0);
  if (rc < 0) {
    ::close(fd);
    *why = "io_uring_register_buf_ring (provided-buffer rings need Linux 5.19)";
    return rc;
  }
  s->brRegistered = true;
  s->mask = io_uring_buf_ring_mask(spec.bufCount);
  for (unsigned i = 0; i < spec.bufCount; i++) io_uring_buf_ring_add(s->br, s->Buffer(base_, i), spec.bufSize, i, s->mask, i);
  io_uring_buf_ring_advance(s->br, spec.bufCount);

  if (spec.udp) {
    s->msg.msg_namelen = kUdpNameLen;
    s->msg.msg_controllen = 0;
  }
  s->fd = fd;
  sockaddr_storage bound{};
  socklen_t bl = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bl);
  out->fd = fd;
  out->port = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  out->backlog = spec.udp ? 0 : std::min(spec.backlog, SoMaxConn());
  out->rcvBuf = GetInt(fd, SOL_SOCKET, SO_RCVBUF);
  out->sndBuf = GetInt(fd, SOL_SOCKET, SO_SNDBUF);
  out->reusePort = GetInt(fd, SOL_SOCKET, SO_REUSEPORT) == 1;
  out->noDelay = !spec.udp && GetInt(fd, IPPROTO_TCP, TCP_NODELAY) == 1;
  if (idx == servers_.size()) servers_.push_back(std::move(s));
  else servers_[idx] = std::move(s);
  return static_cast<int>(idx);
}

int NetEngine::Start(int server, std::string* why) {
  if (server < 0 || static_cast<size_t>(server) >= servers_.size() || !servers_[server] || !servers_[server]->used) {
    *why = "no such server";
    return -EINVAL;
  }
  Server& s = *servers_[server];
  if (s.started) return 0;
  s.started = true;
  if (s.udp) ArmRecvMsg(s);
  else ArmAccept(s);
  return 0;
}

void NetEngine::ArmAccept(Server& s) {
  io_uring_sqe* sqe = Sqe();
  if (!sqe) {  // the ring takes no SQE at all: tried again after the next reap
    s.needsArm = starvedSince_ = true;
    return;
  }
  s.needsArm = false;
  io_uring_prep_multishot_accept(sqe, s.fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, Ud(kUdAccept, s.index, 0));
  s.ops++;
  s.armed = true;
}

void NetEngine::ArmRecvMsg(Server& s) {
  io_uring_sqe* sqe = Sqe();
  if (!sqe) {  // tried again after the next reap: a UDP socket must not go deaf for good
    s.needsArm = starvedSince_ = true;
    return;
  }
  s.needsArm = false;
  io_uring_prep_recvmsg_multishot(sqe, s.fd, &s.msg, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = static_cast<uint16_t>(s.index);
  io_uring_sqe_set_data64(sqe, Ud(kUdRecvMsg, s.index, 0));
  s.ops++;
  s.armed = true;
}

void NetEngine::ArmRecv(Conn& c) {
  io_uring_sqe* sqe = Sqe();
  if (!sqe) {
    CloseConn(c, -EBUSY);
    return;
  }
  io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = c.server;
  io_uring_sqe_set_data64(sqe, Ud(kUdRecv, c.server, c.id));
  c.ops++;
  c.recvArmed = true;
}

// ---- completions -------------------------------------------------------------

void NetEngine::OnCqe(const io_uring_cqe* cqe) {
  const uint64_t ud = cqe->user_data;
  const bool more = cqe->flags & IORING_CQE_F_MORE;
  const unsigned si = ServerOf(ud);
  Server* s = si < servers_.size() ? servers_[si].get() : nullptr;
  switch (KindOf(ud)) {
    case kUdCancel:
      return;  // the cancelled op's own completion is what counts
    case kUdAccept:
      if (s) OnAccept(*s, cqe->res, more);
      return;
    case kUdBackoff:
      if (!s) return;
      s->ops--;
      s->backoff = false;
      if (!s->stopping) ArmAccept(*s);
      else MaybeFreeServer(*s);
      return;
    case kUdRecvMsg:
      if (s) OnRecvMsg(*s, cqe->res, cqe->flags, more);
      return;
    case kUdSendMsg: {
      uint32_t i = IdOf(ud);
      if (i < udpSends_.size() && udpSends_[i]) {
        if (s) {
          s->ops--;
          if (cqe->res < 0) s->st.sendErrors++;
          else {
            s->st.bytesOut += cqe->res;
            s->st.sends++;
          }
        }
        udpSends_[i].reset();
        freeUdp_.push_back(i);
        if (s) MaybeFreeServer(*s);
      }
      return;
    }
    case kUdRecv:
    case kUdSend: {
      Conn* c = Find(IdOf(ud));
      if (!c) return;  // cannot happen: a slot is freed only after its ops' last completions
      if (KindOf(ud) == kUdRecv) OnRecv(*c, cqe->res, cqe->flags, more);
      else OnSend(*c, cqe->res);
      return;
    }
  }
}

void NetEngine::OnAccept(Server& s, int res, bool more) {
  if (!more) {
    s.ops--;
    s.armed = false;
  }
  if (res >= 0) {
    if (s.stopping) {
      ::close(res);
    } else if (s.conns >= s.spec.maxConnections || (freeSlots_.empty() && conns_.size() >= maxSlots_)) {
      ::close(res);  // over the limit: refused (the peer sees the connection closed)
      s.st.refused++;
    } else {
      // The slot freed longest ago, and the next generation of that slot: an
      // id comes back only after its slot has been reused 2047 times, so a
      // command still on its way for a closed connection (an exec driver's
      // late send) finds no connection rather than the next one in the slot.
      uint32_t slot;
      if (!freeSlots_.empty()) {
        slot = freeSlots_.front();
        freeSlots_.pop_front();
      } else {
        slot = static_cast<uint32_t>(conns_.size());
        conns_.push_back(std::make_unique<Conn>());
        slotGen_.push_back(0);
      }
      Conn& c = *conns_[slot];
      uint32_t gen = (slotGen_[slot] + 1) & 0x7FF;
      if (gen == 0) gen = 1;
      slotGen_[slot] = static_cast<uint16_t>(gen);
      std::string keepS = std::move(c.sending), keepQ = std::move(c.queued);  // reuse their capacity
      c = Conn{};
      keepS.clear();
      keepQ.clear();
      c.sending = std::move(keepS);
      c.queued = std::move(keepQ);
      c.id = slot | (gen << kSlotBits);
      c.server = static_cast<uint8_t>(s.index);
      c.fd = res;
      c.open = true;
      queuedBytes_[slot] = 0;
      if (s.spec.noDelay) {
        int one = 1;
        setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      int cpu = GetInt(res, SOL_SOCKET, SO_INCOMING_CPU);
      if (cpu >= 0 && cpu == sched_getcpu()) s.st.incomingLocal++;
      else s.st.incomingOther++;
      s.conns++;
      s.st.accepted++;
      s.st.open++;
      Emit(kEvOpen, static_cast<uint8_t>(s.index), c.id, 0, 0, 0);
      if (c.open && !c.closing) ArmRecv(c);  // (an io driver's event sink may have refused it: closed, maybe freed)
    }
  } else if (res != -ECANCELED) {
    s.st.acceptErrors++;
    if (res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS) {
      // Out of fds or memory: stop accepting for a while instead of spinning
      // on the same error; the connections we have keep being served.
      if (more) {
        if (io_uring_sqe* sqe = Sqe()) {
          io_uring_prep_cancel64(sqe, Ud(kUdAccept, s.index, 0), 0);
          io_uring_sqe_set_data64(sqe, Ud(kUdCancel, s.index, 0));
        }
      }
      if (!s.backoff && !s.stopping) {
        if (io_uring_sqe* sqe = Sqe()) {
          static thread_local __kernel_timespec ts{0, kBackoffNs};  // read by the kernel at submit; never changes
          io_uring_prep_timeout(sqe, &ts, 0, 0);
          io_uring_sqe_set_data64(sqe, Ud(kUdBackoff, s.index, 0));
          s.ops++;
          s.backoff = true;
          s.st.acceptBackoffs++;
        } else if (!more) {
          s.needsArm = starvedSince_ = true;  // no timer to wait on: accepting must not stop for good
        }
      }
      return;
    }
  }
  if (!more && !s.stopping && !s.backoff && !s.armed) ArmAccept(s);
  if (s.stopping) MaybeFreeServer(s);
}

void NetEngine::OnRecv(Conn& c, int res, unsigned flags, bool more) {
  Server& s = *servers_[c.server];
  if (!more) {
    c.ops--;
    c.recvArmed = false;
  }
  const bool hasBuf = flags & IORING_CQE_F_BUFFER;
  const uint16_t bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
  if (res > 0 && hasBuf && c.open) {
    s.st.recvs++;
    s.st.bytesIn += res;
    Lend(s, bid);
    Emit(kEvData, static_cast<uint8_t>(s.index), c.id, bid, static_cast<uint32_t>(res), 0);
  } else if (hasBuf) {
    GiveBack(s, bid);  // closed meanwhile, or a buffer with nothing in it
  }
  if (res == 0) {
    if (!c.eof && c.open) {
      c.eof = true;
      Emit(kEvEnd, static_cast<uint8_t>(s.index), c.id, 0, 0, 0);
      if (c.ending && c.shutDown) CloseConn(c, 0);
    }
  } else if (res == -ENOBUFS) {
    s.st.enobufs++;
    if (!more && c.open) {
      s.starvedConns.push_back(c.id);  // re-armed when buffers are back (AfterReap, a release), not polled
      starvedSince_ = true;
    }
  } else if (res < 0 && res != -ECANCELED) {
    if (c.open) CloseConn(c, res);
  } else if (!more && c.open && !c.paused && !c.throttled && !c.eof) {
    // The recv's last completion, and the connection still wants to read:
    // the kernel ended the multishot (res > 0: e.g. CQ overflow), or a
    // pause/throttle cancelled it and was undone before the cancel landed
    // (-ECANCELED; Resume saw recvArmed still set and left the re-arm to us).
    s.st.rearms++;
    ArmRecv(c);
  }
  if (c.closing) MaybeFree(c);
}

void NetEngine::SubmitSend(Conn& c) {
  if (c.sendInFlight || c.closing) return;
  if (c.sent >= c.sending.size()) {
    c.sending.clear();
    c.sent = 0;
    c.sending.swap(c.queued);
  }
  if (c.sending.empty()) return;
  io_uring_sqe* sqe = Sqe();
  if (!sqe) {
    CloseConn(c, -EBUSY);
    return;
  }
  io_uring_prep_send(sqe, c.fd, c.sending.data() + c.sent, c.sending.size() - c.sent, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, Ud(kUdSend, c.server, c.id));
  c.ops++;
  c.sendInFlight = true;
  servers_[c.server]->st.sendsInFlight++;
}

void NetEngine::OnSend(Conn& c, int res) {
  Server& s = *servers_[c.server];
  c.ops--;
  c.sendInFlight = false;
  s.st.sendsInFlight--;
  if (c.closing) return MaybeFree(c);
  if (res < 0) return CloseConn(c, res);  // EPIPE, ECONNRESET: the peer is gone
  s.st.sends++;
  s.st.bytesOut += res;
  c.sent += static_cast<size_t>(res);
  SubmitSend(c);  // the rest of a partial send, or what was queued meanwhile
  if (c.closing) return;  // SubmitSend found no SQE and closed it: c may be freed (id 0: slot 0's counter is another's)
  const size_t left = (c.sending.size() - c.sent) + c.queued.size();
  queuedBytes_[c.id & kSlotMask] = static_cast<uint32_t>(std::min<size_t>(left, UINT32_MAX));
  if (left > 0 || c.closing) return;
  if (c.wantDrain) {
    c.wantDrain = false;
    Emit(kEvDrain, static_cast<uint8_t>(s.index), c.id, 0, 0, 0);
  }
  if (c.ending && !c.shutDown) {
    ::shutdown(c.fd, SHUT_WR);
    c.shutDown = true;
    if (c.eof) CloseConn(c, 0);
  }
}

void NetEngine::OnRecvMsg(Server& s, int res, unsigned flags, bool more) {
  if (!more) {
    s.ops--;
    s.armed = false;
  }
  const bool hasBuf = flags & IORING_CQE_F_BUFFER;
  const uint16_t bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
  if (res > 0 && hasBuf && !s.stopping) {
    auto* out = io_uring_recvmsg_validate(s.Buffer(base_, bid), res, &s.msg);
    if (!out) {
      GiveBack(s, bid);
    } else if (out->flags & MSG_TRUNC) {
      s.st.truncated++;  // larger than a buffer: dropped whole, never delivered cut
      GiveBack(s, bid);
    } else {
      s.st.datagrams++;
      s.st.bytesIn += out->payloadlen;
      Lend(s, bid);
      Emit(kEvMessage, static_cast<uint8_t>(s.index), out->namelen, bid, out->payloadlen, static_cast<int32_t>(kUdpPayloadAt));
    }
  } else if (hasBuf) {
    GiveBack(s, bid);
  }
  if (res == -ENOBUFS) {
    s.st.enobufs++;
    // Re-armed once buffers are back: by a release, or at the end of this
    // reap if the ring holds some already. (A release processed before this
    // completion was reaped gave them back and found nothing starved; with
    // every buffer back, no release would ever come again.)
    if (!more) s.starved = starvedSince_ = true;
  } else if (res < 0 && res != -ECANCELED) {
    s.st.acceptErrors++;
  }
  if (!more && !s.stopping && !s.starved) {
    s.st.rearms++;
    ArmRecvMsg(s);
  }
  if (s.stopping) MaybeFreeServer(s);
}

// ---- buffers -------------------------------------------------------------------

void NetEngine::Lend(Server& s, uint16_t bid) {
  if (!sink_) lent_.emplace_back(static_cast<uint8_t>(s.index), bid);  // remote: the io driver tracks them per exec driver
  s.st.buffersLent++;
}

void NetEngine::ReturnBuffer(unsigned server, uint16_t bid) {
  if (server >= servers_.size() || !servers_[server] || !servers_[server]->used) return;
  Server& s = *servers_[server];
  if (bid >= s.spec.bufCount) return;
  s.st.buffersLent--;
  GiveBack(s, bid);
  if (s.stopping) MaybeFreeServer(s);
}

void NetEngine::GiveBack(Server& s, uint16_t bid) {
  io_uring_buf_ring_add(s.br, s.Buffer(base_, bid), s.spec.bufSize, bid, s.mask, 0);
  io_uring_buf_ring_advance(s.br, 1);
}

void NetEngine::ReleaseLent() {
  for (auto [si, bid] : lent_) {
    Server& s = *servers_[si];
    s.st.buffersLent--;
    GiveBack(s, bid);
  }
  lent_.clear();
  RearmStarved();  // (which also finishes a stopping server whose buffers are all back)
}

void NetEngine::AfterReap() {
  if (!starvedSince_) return;
  starvedSince_ = false;
  RearmStarved();
}

void NetEngine::RearmStarved() {
  // Whoever ran dry re-arms now that there are buffers again. A buffer is
  // lent to JS (or an exec driver) or back in the ring, once the completion
  // that carried it was reaped: with fewer lent than the ring holds, the
  // ring has some. (Other recvs' completions not yet reaped may hold a few
  // more: then the re-armed op ends with ENOBUFS again, and the release of
  // those buffers re-arms it.)
  for (auto& sp : servers_) {
    if (!sp || !sp->used) continue;
    Server& s = *sp;
    if (s.stopping) {
      MaybeFreeServer(s);  // its last lent buffers may just have come back
      if (!s.used) continue;
    }
    if (s.needsArm && !s.armed && !s.backoff && !s.stopping) s.udp ? ArmRecvMsg(s) : ArmAccept(s);
    if (s.st.buffersLent >= s.spec.bufCount) continue;  // all lent: their release will re-arm
    if (s.udp && s.starved) {
      s.starved = false;
      if (!s.stopping && !s.armed) {
        s.st.rearms++;
        ArmRecvMsg(s);
      }
    }
    if (s.starvedConns.empty()) continue;
    std::vector<uint32_t> ids;
    ids.swap(s.starvedConns);
    for (uint32_t id : ids) {
      Conn* c = Find(id);
      if (c && c->open && !c->paused && !c->throttled && !c->eof && !c->recvArmed) {
        s.st.rearms++;
        ArmRecv(*c);
      }
    }
  }
}

// ---- closing -------------------------------------------------------------------

void NetEngine::CloseConn(Conn& c, int err) {
  if (c.closing) return;
  Server& s = *servers_[c.server];
  c.closing = true;
  if (c.open) {
    c.open = false;
    s.st.open--;
    s.st.closed++;
    Emit(kEvClose, static_cast<uint8_t>(s.index), c.id, 0, 0, err);
  }
  queuedBytes_[c.id & kSlotMask] = 0;
  // Cancel before close: the fd must not go (and be reused) while the
  // kernel still has ops on it, and the send buffer must outlive its send.
  for (UdKind k : {kUdRecv, kUdSend}) {
    if ((k == kUdRecv && !c.recvArmed) || (k == kUdSend && !c.sendInFlight)) continue;
    if (io_uring_sqe* sqe = Sqe()) {
      io_uring_prep_cancel64(sqe, Ud(k, c.server, c.id), 0);
      io_uring_sqe_set_data64(sqe, Ud(kUdCancel, c.server, c.id));
    } else {
      // No SQE for the cancel: shutting the socket down ends its recv (EOF)
      // and its send (EPIPE) all the same, so the fd is still closed after them.
      ::shutdown(c.fd, SHUT_RDWR);
    }
  }
  MaybeFree(c);
}

void NetEngine::MaybeFree(Conn& c) {
  // Once: a completion handler may close (and so free) the connection and
  // then ask again on its way out.
  if (!c.closing || c.ops > 0 || c.id == 0) return;
  ::close(c.fd);
  c.fd = -1;
  Server& s = *servers_[c.server];
  const uint32_t slot = c.id & kSlotMask;
  c.id = 0;
  c.sending.clear();
  c.queued.clear();
  c.sending.shrink_to_fit();
  c.queued.shrink_to_fit();
  freeSlots_.push_back(slot);
  s.conns--;
  MaybeFreeServer(s);
}

void NetEngine::Stop(int server, bool closeConnections) {
  if (server < 0 || static_cast<size_t>(server) >= servers_.size() || !servers_[server] || !servers_[server]->used) return;
  Server& s = *servers_[server];
  if (!s.stopping) {
    s.stopping = true;
    if (s.armed) {
      if (io_uring_sqe* sqe = Sqe()) {
        io_uring_prep_cancel64(sqe, Ud(s.udp ? kUdRecvMsg : kUdAccept, s.index, 0), 0);
        io_uring_sqe_set_data64(sqe, Ud(kUdCancel, s.index, 0));
      }
    }
    if (s.backoff) {
      if (io_uring_sqe* sqe = Sqe()) {
        io_uring_prep_timeout_remove(sqe, Ud(kUdBackoff, s.index, 0), 0);
        io_uring_sqe_set_data64(sqe, Ud(kUdCancel, s.index, 0));
      }
    }
  }
  if (closeConnections) {
    for (auto& c : conns_)
      if (c && c->id && c->server == s.index && !c->closing) CloseConn(*c, 0);
  }
  MaybeFreeServer(s);
}

void NetEngine::MaybeFreeServer(Server& s) {
  if (!s.stopping || !s.used) return;
  if (s.fd >= 0 && s.ops == 0) {
    ::close(s.fd);  // the listener goes first: no new connection lands here
    s.fd = -1;
  }
  // Every recv that could pick one of its buffers has completed, and every
  // buffer lent out has come back: JS on an exec driver may still read one
  // (its event waits in a busy driver's inbox), and the block, or a server
  // reusing the index, must not be handed out before (closing_: the ring
  // frees it after its drain, when no thread reads it any more).
  if (s.ops > 0 || s.conns > 0 || (s.st.buffersLent > 0 && !closing_)) return;
  for (auto it = lent_.begin(); it != lent_.end();) it = it->first == s.index ? lent_.erase(it) : it + 1;
  if (s.brRegistered) io_uring_unregister_buf_ring(ring_->raw(), static_cast<int>(s.index));
  s.brRegistered = false;
  s.used = false;
  if (!closing_ && freeBlock_) freeBlock_(s.spec.bufBlock);  // at Shutdown the ring frees it after its drain
}

void NetEngine::Shutdown() {
  for (auto& s : servers_)
    if (s && s->used) Stop(static_cast<int>(s->index), true);
  // From here the ring's drain reaps what is left; events go nowhere.
  closing_ = true;
}

// ---- commands from JS ----------------------------------------------------------

NetEngine::Conn* NetEngine::Find(uint32_t id) {
  uint32_t slot = id & kSlotMask;
  if (id == 0 || slot >= conns_.size() || !conns_[slot] || conns_[slot]->id != id) return nullptr;
  return conns_[slot].get();
}

const NetEngine::Conn* NetEngine::Find(uint32_t id) const { return const_cast<NetEngine*>(this)->Find(id); }

std::string NetEngine::Validate(const RingCommand& c) const {
  const std::string op = RingOpName(c.op);
  if (c.op == kOpNetSend || c.op == kOpNetSendTo) {
    if (!WithinArena(c.buf, c.len)) return op + ": the staged bytes are not inside the arena";
    if (c.op == kOpNetSendTo && c.len < kSendToHeader) return op + ": a datagram record is at least 32 bytes (its address)";
  }
  if (c.op == kOpNetSendTo) {
    unsigned si = static_cast<unsigned>(c.fd);
    if (si >= servers_.size() || !servers_[si] || !servers_[si]->used || !servers_[si]->udp) return op + ": server " + std::to_string(c.fd) + " is not a UDP server of this ring";
  }
  return "";
}

bool NetEngine::WithinArena(double buf, uint32_t len) const {
  return buf >= 0 && buf == static_cast<double>(static_cast<uint64_t>(buf)) && static_cast<uint64_t>(buf) + len <= bytes_;
}

void NetEngine::SendTo(unsigned si, const uint8_t* p, size_t n) {
  if (si >= servers_.size() || !servers_[si] || !servers_[si]->used || !servers_[si]->udp || n < kSendToHeader) return;
  Server& s = *servers_[si];
  if (s.stopping) return;
  uint32_t alen;
  std::memcpy(&alen, p + 28, 4);
  if (alen > sizeof(sockaddr_in6)) alen = sizeof(sockaddr_in6);
  uint32_t i;
  if (!freeUdp_.empty()) {
    i = freeUdp_.back();
    freeUdp_.pop_back();
  } else {
    i = static_cast<uint32_t>(udpSends_.size());
    udpSends_.emplace_back();
  }
  auto h = std::make_unique<UdpSend>();
  std::memcpy(&h->addr, p, alen);
  h->data.assign(reinterpret_cast<const char*>(p + kSendToHeader), n - kSendToHeader);
  h->iov = {h->data.data(), h->data.size()};
  h->msg.msg_name = &h->addr;
  h->msg.msg_namelen = alen;
  h->msg.msg_iov = &h->iov;
  h->msg.msg_iovlen = 1;
  h->server = static_cast<uint8_t>(s.index);
  io_uring_sqe* sqe = Sqe();
  if (!sqe) {
    s.st.sendErrors++;
    freeUdp_.push_back(i);
    return;
  }
  io_uring_prep_sendmsg(sqe, s.fd, &h->msg, 0);
  io_uring_sqe_set_data64(sqe, Ud(kUdSendMsg, s.index, i));
  s.ops++;
  udpSends_[i] = std::move(h);
}

void NetEngine::QueueSend(uint32_t conn, const uint8_t* p, size_t n, uint32_t flags) {
  Conn* c = Find(conn);
  // A connection that closed in the batch JS was handling: what its
  // handlers wrote afterwards has nowhere to go (the close event says so).
  if (!c || !c->open || c->ending) return;
  Server& s = *servers_[c->server];
  c->queued.append(reinterpret_cast<const char*>(p), n);
  if (flags & kSendWantDrain) c->wantDrain = true;
  const size_t total = (c->sending.size() - c->sent) + c->queued.size();
  queuedBytes_[c->id & kSlotMask] = static_cast<uint32_t>(std::min<size_t>(total, UINT32_MAX));
  // The peer does not read and the handler ignored write()'s false: closed. One large write
  // (res.end(big), whose pieces come in several commands) is not that: it was told nothing yet.
  if (s.spec.maxQueued > 0 && total > s.spec.maxQueued && (flags & kSendAfterFalse)) {
    CloseConn(*c, -ENOBUFS);
    return;
  }
  if (!c->dirty) {
    c->dirty = true;
    dirty_.push_back(c->id);
  }
}

void NetEngine::Refuse(unsigned server, uint32_t conn) {
  if (server < servers_.size() && servers_[server] && servers_[server]->used) servers_[server]->st.refused++;
  if (conn != 0) CloseConnection(conn, -ECONNREFUSED);
}

void NetEngine::CloseConnection(uint32_t conn, int err) {
  if (Conn* c = Find(conn)) CloseConn(*c, err);
}

void NetEngine::ConnCommand(uint8_t op, uint32_t conn) {
  Conn* c = Find(conn);
  if (!c || !c->open) return;
  switch (op) {
    case kOpNetEnd:
      c->ending = true;
      if (!c->sendInFlight && c->queued.empty() && !c->dirty) {
        ::shutdown(c->fd, SHUT_WR);
        c->shutDown = true;
        if (c->eof) CloseConn(*c, 0);
      }
      return;
    case kOpNetClose:
      CloseConn(*c, 0);
      return;
    case kOpNetPause:
      c->paused = true;
      if (c->recvArmed) {
        if (io_uring_sqe* sqe = Sqe()) {
          io_uring_prep_cancel64(sqe, Ud(kUdRecv, c->server, c->id), 0);
          io_uring_sqe_set_data64(sqe, Ud(kUdCancel, c->server, c->id));
        }
      }
      return;
    case kOpNetResume:
      c->paused = false;
      // Still armed: a pause's cancel may be on its way; OnRecv re-arms after its last completion.
      if (!c->recvArmed && !c->eof && !c->throttled) ArmRecv(*c);
      return;
  }
}

void NetEngine::Throttle(uint32_t conn, bool on) {
  Conn* c = Find(conn);
  if (!c || !c->open || c->throttled == on) return;
  c->throttled = on;
  if (on) {
    servers_[c->server]->st.throttles++;
    if (c->recvArmed) {
      if (io_uring_sqe* sqe = Sqe()) {
        io_uring_prep_cancel64(sqe, Ud(kUdRecv, c->server, c->id), 0);
        io_uring_sqe_set_data64(sqe, Ud(kUdCancel, c->server, c->id));
      }
    }
  } else if (!c->paused && !c->recvArmed && !c->eof) {
    servers_[c->server]->st.rearms++;
    ArmRecv(*c);
  }
}

std::string NetEngine::Command(const RingCommand& cmd) {
  const uint8_t* p = base_ + static_cast<uint64_t>(cmd.buf);
  switch (cmd.op) {
    case kOpNetRelease:
      ReleaseLent();
      break;
    case kOpNetSendTo:
      SendTo(static_cast<unsigned>(cmd.fd), p, cmd.len);
      break;
    case kOpNetSend:
      QueueSend(static_cast<uint32_t>(cmd.fd), p, cmd.len, cmd.flags);
      break;
    default:
      ConnCommand(cmd.op, static_cast<uint32_t>(cmd.fd));
      break;
  }
  return "";
}

void NetEngine::Flush() {
  // Everything a turn wrote to one connection goes out in one send (cork).
  for (uint32_t id : dirty_) {
    Conn* c = Find(id);
    if (!c) continue;
    c->dirty = false;
    if (c->closing) continue;
    SubmitSend(*c);
    if (c->ending && !c->sendInFlight && !c->shutDown) {
      ::shutdown(c->fd, SHUT_WR);
      c->shutDown = true;
      if (c->eof) CloseConn(*c, 0);
    }
  }
  dirty_.clear();
}

int NetEngine::Peer(uint32_t conn, sockaddr_storage* out, socklen_t* len) const {
  const Conn* c = Find(conn);
  if (!c || c->fd < 0) return -ENOTCONN;
  *len = sizeof *out;
  return getpeername(c->fd, reinterpret_cast<sockaddr*>(out), len) == 0 ? 0 : -errno;
}

void NetEngine::WriteStats(double* out, unsigned n) const {
  for (unsigned i = 0; i < n; i++) {
    double* o = out + size_t{i} * kStatFields;
    const bool used = i < servers_.size() && servers_[i] && servers_[i]->used;
    auto set = [&](unsigned k, double v) { std::atomic_ref<double>(o[k]).store(v, std::memory_order_relaxed); };
    set(0, used ? 1 : 0);
    if (!used) continue;
    const NetServerStats& s = servers_[i]->st;
    const uint64_t v[] = {s.accepted, s.refused, s.open, s.closed, s.bytesIn, s.bytesOut, s.recvs, s.sends, s.sendsInFlight, s.enobufs,
                          s.rearms, s.buffersLent, s.acceptErrors, s.acceptBackoffs, s.datagrams, s.truncated, s.sendErrors, s.incomingLocal, s.incomingOther, s.throttles};
    for (unsigned k = 0; k < sizeof v / sizeof v[0]; k++) set(k + 1, static_cast<double>(v[k]));
  }
}

bool NetEngine::ServerStats(int server, NetServerStats* out) const {
  if (server < 0 || static_cast<size_t>(server) >= servers_.size() || !servers_[server] || !servers_[server]->used) return false;
  *out = servers_[server]->st;
  return true;
}

}  // namespace gatio
