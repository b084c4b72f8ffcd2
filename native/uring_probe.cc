// What io_uring on this kernel can actually do, found by trying it: ring
// setup (and why it fails), setup flags, features, opcodes, and the
// networking behaviours gatio depends on (provided-buffer rings, multishot
// accept/recv, MSG_RING between rings). Never reads the kernel version.
//
// Every probe owns what it creates through the small RAII holders below, so
// an early return cannot leak a ring, an fd or a mapping. Holders are
// declared memory first, then fds, then the ring: the ring is destroyed
// first (the kernel drops its references to our memory and sockets), then
// the fds close, then the memory is unmapped.
#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>

#include "addon.h"

// liburing 2.3's headers predate these kernel constants. Values are the
// kernel uapi's (include/uapi/linux/io_uring.h); the kernel itself answers
// whether it knows them.
#ifndef IORING_SETUP_NO_MMAP
#define IORING_SETUP_NO_MMAP (1U << 14)  // 6.5
#endif
#ifndef IORING_SETUP_REGISTERED_FD_ONLY
#define IORING_SETUP_REGISTERED_FD_ONLY (1U << 15)  // 6.5
#endif
#ifndef IORING_SETUP_NO_SQARRAY
#define IORING_SETUP_NO_SQARRAY (1U << 16)  // 6.6
#endif
#ifndef IORING_FEAT_REG_REG_RING
#define IORING_FEAT_REG_REG_RING (1U << 13)
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14)
#endif
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif
#ifndef IORING_FEAT_RW_ATTR
#define IORING_FEAT_RW_ATTR (1U << 16)
#endif
#ifndef IORING_FEAT_NO_IOWAIT
#define IORING_FEAT_NO_IOWAIT (1U << 17)
#endif
// Opcodes after IORING_OP_SENDMSG_ZC (48): liburing 2.3's enum stops there,
// and the probe answers by number, so plain numbers are enough.
#define GATIO_OP_READ_MULTISHOT 49
#define GATIO_OP_WAITID 50
#define GATIO_OP_FUTEX_WAIT 51
#define GATIO_OP_FUTEX_WAKE 52
#define GATIO_OP_FUTEX_WAITV 53
#define GATIO_OP_FIXED_FD_INSTALL 54
#define GATIO_OP_FTRUNCATE 55
#define GATIO_OP_BIND 56
#define GATIO_OP_LISTEN 57

namespace gatio {
namespace {

// ---- owners ---------------------------------------------------------------

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

struct Mapping {
  void* p = MAP_FAILED;
  size_t len = 0;
  explicit Mapping(size_t n) : len(n) {
    p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (p != MAP_FAILED) munmap(p, len);
  }
  bool ok() const { return p != MAP_FAILED; }
  char* at(size_t off) const { return static_cast<char*>(p) + off; }
};

// A liburing ring; init() returns 0 or -errno.
struct Ring {
  io_uring r{};
  io_uring_params params{};
  bool live = false;
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  int init(unsigned entries, unsigned flags = 0) {
    params = {};
    params.flags = flags;
    int rc = io_uring_queue_init_params(entries, &r, &params);
    live = rc == 0;
    return rc;
  }
  ~Ring() {
    if (live) io_uring_queue_exit(&r);
  }
};

struct Cqe {
  uint64_t user_data = 0;
  int32_t res = 0;
  uint32_t flags = 0;
};

// A probe's answer; `why` says what went wrong when it did not work.
struct Outcome {
  bool ok = false;
  std::string why;
};

Outcome Fail(std::string why) { return {false, std::move(why)}; }

std::string ErrName(int err) {  // "EINVAL (Invalid argument)"
  return std::string(ErrnoName(err)) + " (" + std::strerror(err) + ")";
}

std::string Hex(unsigned v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", v);
  return b;
}

// Waits up to `ms` for one completion and consumes it. False on timeout.
bool WaitCqe(Ring& ring, int ms, Cqe& out) {
  __kernel_timespec ts{ms / 1000, (ms % 1000) * 1000000LL};
  io_uring_cqe* cqe = nullptr;
  if (io_uring_wait_cqe_timeout(&ring.r, &cqe, &ts) < 0 || !cqe) return false;
  out = {cqe->user_data, cqe->res, cqe->flags};
  io_uring_cqe_seen(&ring.r, cqe);
  return true;
}

std::string Describe(const Cqe& c) {
  return "res=" + std::to_string(c.res) + (c.res < 0 ? " " + ErrName(-c.res) : "") + " flags=" + Hex(c.flags);
}

// Cancels the multishot request `ud` and drains until both its final
// completion (no F_MORE) and the cancel's own completion have arrived, so
// nothing is in flight when the ring is torn down.
void CancelMultishot(Ring& ring, uint64_t ud) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring.r);
  if (!sqe) return;  // the ring exit cancels it anyway
  const uint64_t cancel_ud = ~0ULL;
  io_uring_prep_cancel64(sqe, ud, 0);
  io_uring_sqe_set_data64(sqe, cancel_ud);
  io_uring_submit(&ring.r);
  bool cancelled = false, ended = false;
  Cqe c;
  while (!(cancelled && ended) && WaitCqe(ring, 1000, c)) {
    if (c.user_data == cancel_ud) {
      cancelled = true;
      if (c.res == -ENOENT) ended = true;  // it had already finished
    } else if (c.user_data == ud && !(c.flags & IORING_CQE_F_MORE)) {
      ended = true;
    }
  }
}

// A loopback TCP listener on an ephemeral port.
Outcome Listen(Fd& lfd, sockaddr_in& addr) {
  lfd.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd.fd < 0) return Fail("socket(AF_INET): " + ErrName(errno));
  addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(lfd.fd, reinterpret_cast<sockaddr*>(&addr), len) < 0) return Fail("bind(127.0.0.1:0): " + ErrName(errno));
  if (listen(lfd.fd, 16) < 0) return Fail("listen: " + ErrName(errno));
  if (getsockname(lfd.fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) return Fail("getsockname: " + ErrName(errno));
  return {true, ""};
}

// A blocking connect to `addr`; loopback completes through the backlog.
Outcome Connect(Fd& cfd, const sockaddr_in& addr) {
  cfd.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (cfd.fd < 0) return Fail("socket(AF_INET): " + ErrName(errno));
  if (connect(cfd.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0)
    return Fail("connect(127.0.0.1): " + ErrName(errno));
  return {true, ""};
}

// ---- probes ----------------------------------------------------------------

// kernel.io_uring_disabled (6.6+): 0 allowed, 1 io_uring_group/CAP_SYS_ADMIN
// only, 2 nobody. -1 when the file does not exist.
int ReadSysctlDisabled() {
  FILE* f = std::fopen("/proc/sys/kernel/io_uring_disabled", "r");
  if (!f) return -1;
  int v = -1;
  if (std::fscanf(f, "%d", &v) != 1) v = -1;
  std::fclose(f);
  return v;
}

std::string SetupFailureReason(int err, int sysctl) {
  switch (err) {
    case EPERM:
      if (sysctl == 2) return "io_uring is disabled for every process (kernel.io_uring_disabled=2)";
      if (sysctl == 1)
        return "io_uring is limited to CAP_SYS_ADMIN and members of kernel.io_uring_group (kernel.io_uring_disabled=1)";
      return "io_uring_setup was denied (EPERM) although kernel.io_uring_disabled allows it: a seccomp profile "
             "(e.g. a container runtime's default) or an LSM blocks it";
    case ENOSYS:
      return "io_uring_setup does not exist here (ENOSYS): a kernel built without CONFIG_IO_URING, or a seccomp "
             "filter that answers ENOSYS";
    case ENOMEM:
      return "not enough lockable memory for the rings (ENOMEM): kernels before 5.12 charge rings to RLIMIT_MEMLOCK";
    case EMFILE:
    case ENFILE:
      return "no file descriptor left for the ring (" + ErrName(err) + ")";
    default:
      return "io_uring_setup failed: " + ErrName(err);
  }
}

// Tries one set of setup flags on a ring of its own through the raw syscall
// (liburing 2.3 would mis-map NO_SQARRAY/NO_MMAP rings); the ring is only
// created and closed. Returns 0 or errno.
int TrySetupFlags(unsigned flags) {
  io_uring_params p{};
  p.flags = flags;
  if (flags & IORING_SETUP_CQSIZE) p.cq_entries = 64;
  // NO_MMAP: we provide the ring memory; one page each is plenty for 4 entries.
  // (Other flags map nothing: mmap of length 0 fails and the holder stays empty.)
  Mapping mem((flags & IORING_SETUP_NO_MMAP) ? 2 * 4096 : 0);
  if (flags & IORING_SETUP_NO_MMAP) {
    if (!mem.ok()) return ENOMEM;
    // liburing 2.3 names the kernel's user_addr fields resv2.
    p.cq_off.resv2 = reinterpret_cast<uintptr_t>(mem.at(0));     // SQ/CQ rings
    p.sq_off.resv2 = reinterpret_cast<uintptr_t>(mem.at(4096));  // SQE array
  }
  int fd = static_cast<int>(syscall(__NR_io_uring_setup, 4, &p));
  if (fd < 0) return errno;
  close(fd);  // the kernel releases the pinned pages before `mem` unmaps
  return 0;
}

// A provided-buffer ring (5.19+) over memory we map ourselves.
Outcome ProbePbufRing(Ring& ring) {
  Mapping mem(4096);
  if (!mem.ok()) return Fail("mmap: " + ErrName(errno));
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(mem.p);
  reg.ring_entries = 8;
  reg.bgid = 1;
  int rc = io_uring_register_buf_ring(&ring.r, &reg, 0);
  if (rc < 0) return Fail("io_uring_register_buf_ring: " + ErrName(-rc));
  io_uring_unregister_buf_ring(&ring.r, 1);
  return {true, ""};
}

// Multishot accept (5.19+): one SQE, two connections, two CQEs with F_MORE.
Outcome ProbeMultishotAccept() {
  Fd listener, c1, c2;
  Ring ring;
  if (int rc = ring.init(8); rc < 0) return Fail("ring setup: " + ErrName(-rc));
  sockaddr_in addr;
  if (Outcome o = Listen(listener, addr); !o.ok) return o;

  const uint64_t ud = 1;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring.r);
  io_uring_prep_multishot_accept(sqe, listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, ud);
  io_uring_submit(&ring.r);

  Outcome out{true, ""};
  Fd* clients[] = {&c1, &c2};
  for (int i = 0; i < 2 && out.ok; i++) {
    if (Outcome o = Connect(*clients[i], addr); !o.ok) {
      out = o;
      break;
    }
    Cqe c;
    if (!WaitCqe(ring, 1000, c)) {
      out = Fail("no accept completion within 1 s for connection " + std::to_string(i + 1));
    } else {
      if (c.res >= 0) close(c.res);  // the accepted socket is ours
      if (c.res < 0 || !(c.flags & IORING_CQE_F_MORE))
        out = Fail("accept completion " + std::to_string(i + 1) + ": " + Describe(c) + " (expected a socket and IORING_CQE_F_MORE)");
    }
  }
  CancelMultishot(ring, ud);
  return out;
}

// Multishot recv (6.0+) into a provided-buffer ring: two sends, two CQEs
// with F_MORE and F_BUFFER.
Outcome ProbeMultishotRecv() {
  constexpr unsigned kEntries = 8, kBufSize = 256;
  constexpr int kGroup = 7;
  Mapping mem(4096 + kEntries * kBufSize);  // page 0: the buffer ring; then the buffers
  Fd listener, client, server;
  Ring ring;
  if (!mem.ok()) return Fail("mmap: " + ErrName(errno));
  if (int rc = ring.init(8); rc < 0) return Fail("ring setup: " + ErrName(-rc));

  auto* br = reinterpret_cast<io_uring_buf_ring*>(mem.p);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(br);
  reg.ring_entries = kEntries;
  reg.bgid = kGroup;
  if (int rc = io_uring_register_buf_ring(&ring.r, &reg, 0); rc < 0)
    return Fail("io_uring_register_buf_ring: " + ErrName(-rc));
  io_uring_buf_ring_init(br);
  for (unsigned i = 0; i < kEntries; i++)
    io_uring_buf_ring_add(br, mem.at(4096 + i * kBufSize), kBufSize, i, io_uring_buf_ring_mask(kEntries), i);
  io_uring_buf_ring_advance(br, kEntries);

  sockaddr_in addr;
  if (Outcome o = Listen(listener, addr); !o.ok) return o;
  if (Outcome o = Connect(client, addr); !o.ok) return o;
  server.fd = accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (server.fd < 0) return Fail("accept4: " + ErrName(errno));

  const uint64_t ud = 1;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring.r);
  io_uring_prep_recv_multishot(sqe, server.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kGroup;
  io_uring_sqe_set_data64(sqe, ud);
  io_uring_submit(&ring.r);

  Outcome out{true, ""};
  for (int i = 0; i < 2 && out.ok; i++) {
    const char msg[] = "ping";
    if (send(client.fd, msg, 4, MSG_NOSIGNAL) != 4) {
      out = Fail("send: " + ErrName(errno));
      break;
    }
    Cqe c;
    if (!WaitCqe(ring, 1000, c))
      out = Fail("no recv completion within 1 s for message " + std::to_string(i + 1));
    else if (c.res != 4 || !(c.flags & IORING_CQE_F_MORE) || !(c.flags & IORING_CQE_F_BUFFER))
      out = Fail("recv completion " + std::to_string(i + 1) + ": " + Describe(c) +
                 " (expected 4 bytes with IORING_CQE_F_MORE and IORING_CQE_F_BUFFER)");
  }
  CancelMultishot(ring, ud);
  io_uring_unregister_buf_ring(&ring.r, kGroup);
  return out;
}

// MSG_RING (5.18+) from ring A to ring B: B sees a CQE carrying our data.
Outcome ProbeMsgRing() {
  Ring a, b;
  if (int rc = a.init(4); rc < 0) return Fail("ring A setup: " + ErrName(-rc));
  if (int rc = b.init(4); rc < 0) return Fail("ring B setup: " + ErrName(-rc));
  const uint64_t tag = 0x6761746921ULL;  // arbitrary, recognisable
  io_uring_sqe* sqe = io_uring_get_sqe(&a.r);
  io_uring_prep_msg_ring(sqe, b.r.ring_fd, 42, tag, 0);
  io_uring_sqe_set_data64(sqe, 1);
  io_uring_submit(&a.r);
  Cqe ca, cb;
  if (!WaitCqe(a, 1000, ca)) return Fail("no completion on the sending ring within 1 s");
  if (ca.res < 0) return Fail("MSG_RING on the sending ring: " + Describe(ca));
  if (!WaitCqe(b, 1000, cb)) return Fail("the target ring saw no message within 1 s");
  if (cb.user_data != tag || cb.res != 42)
    return Fail("the target ring saw user_data=" + std::to_string(cb.user_data) + " " + Describe(cb) +
                " (expected the sent data and res=42)");
  return {true, ""};
}

// ---- tables ----------------------------------------------------------------

struct Named {
  const char* name;
  unsigned value;
};

// Each entry is tried alone, except where the kernel requires a companion:
// TASKRUN_FLAG needs COOP_TASKRUN, DEFER_TASKRUN needs SINGLE_ISSUER.
const Named kSetupFlags[] = {
    {"SQPOLL", IORING_SETUP_SQPOLL},
    {"CQSIZE", IORING_SETUP_CQSIZE},
    {"R_DISABLED", IORING_SETUP_R_DISABLED},
    {"SUBMIT_ALL", IORING_SETUP_SUBMIT_ALL},
    {"COOP_TASKRUN", IORING_SETUP_COOP_TASKRUN},
    {"TASKRUN_FLAG", IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG},
    {"SINGLE_ISSUER", IORING_SETUP_SINGLE_ISSUER},
    {"DEFER_TASKRUN", IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN},
    {"NO_MMAP", IORING_SETUP_NO_MMAP},
    {"NO_SQARRAY", IORING_SETUP_NO_SQARRAY},
};

const Named kFeatures[] = {
    {"SINGLE_MMAP", IORING_FEAT_SINGLE_MMAP},
    {"NODROP", IORING_FEAT_NODROP},
    {"SUBMIT_STABLE", IORING_FEAT_SUBMIT_STABLE},
    {"RW_CUR_POS", IORING_FEAT_RW_CUR_POS},
    {"CUR_PERSONALITY", IORING_FEAT_CUR_PERSONALITY},
    {"FAST_POLL", IORING_FEAT_FAST_POLL},
    {"POLL_32BITS", IORING_FEAT_POLL_32BITS},
    {"SQPOLL_NONFIXED", IORING_FEAT_SQPOLL_NONFIXED},
    {"EXT_ARG", IORING_FEAT_EXT_ARG},
    {"NATIVE_WORKERS", IORING_FEAT_NATIVE_WORKERS},
    {"RSRC_TAGS", IORING_FEAT_RSRC_TAGS},
    {"CQE_SKIP", IORING_FEAT_CQE_SKIP},
    {"LINKED_FILE", IORING_FEAT_LINKED_FILE},
    {"REG_REG_RING", IORING_FEAT_REG_REG_RING},
    {"RECVSEND_BUNDLE", IORING_FEAT_RECVSEND_BUNDLE},
    {"MIN_TIMEOUT", IORING_FEAT_MIN_TIMEOUT},
    {"RW_ATTR", IORING_FEAT_RW_ATTR},
    {"NO_IOWAIT", IORING_FEAT_NO_IOWAIT},
};
// Behaviours found by running them (not params.features bits).
const char* const kProbedFeatures[] = {"PBUF_RING", "MULTISHOT_ACCEPT", "MULTISHOT_RECV", "MSG_RING_WORKS"};

const Named kOpcodes[] = {
    {"NOP", IORING_OP_NOP},
    {"READ", IORING_OP_READ},
    {"WRITE", IORING_OP_WRITE},
    {"READV", IORING_OP_READV},
    {"WRITEV", IORING_OP_WRITEV},
    {"FSYNC", IORING_OP_FSYNC},
    {"OPENAT", IORING_OP_OPENAT},
    {"CLOSE", IORING_OP_CLOSE},
    {"STATX", IORING_OP_STATX},
    {"ACCEPT", IORING_OP_ACCEPT},
    {"CONNECT", IORING_OP_CONNECT},
    {"RECV", IORING_OP_RECV},
    {"SEND", IORING_OP_SEND},
    {"RECVMSG", IORING_OP_RECVMSG},
    {"SENDMSG", IORING_OP_SENDMSG},
    {"SEND_ZC", IORING_OP_SEND_ZC},
    {"SENDMSG_ZC", IORING_OP_SENDMSG_ZC},
    {"SOCKET", IORING_OP_SOCKET},
    {"SHUTDOWN", IORING_OP_SHUTDOWN},
    {"MSG_RING", IORING_OP_MSG_RING},
    {"TIMEOUT", IORING_OP_TIMEOUT},
    {"TIMEOUT_REMOVE", IORING_OP_TIMEOUT_REMOVE},
    {"LINK_TIMEOUT", IORING_OP_LINK_TIMEOUT},
    {"POLL_ADD", IORING_OP_POLL_ADD},
    {"POLL_REMOVE", IORING_OP_POLL_REMOVE},
    {"ASYNC_CANCEL", IORING_OP_ASYNC_CANCEL},
    {"PROVIDE_BUFFERS", IORING_OP_PROVIDE_BUFFERS},
    {"READ_MULTISHOT", GATIO_OP_READ_MULTISHOT},
    {"WAITID", GATIO_OP_WAITID},
    {"FUTEX_WAIT", GATIO_OP_FUTEX_WAIT},
    {"FUTEX_WAKE", GATIO_OP_FUTEX_WAKE},
    {"FUTEX_WAITV", GATIO_OP_FUTEX_WAITV},
    {"FIXED_FD_INSTALL", GATIO_OP_FIXED_FD_INSTALL},
    {"FTRUNCATE", GATIO_OP_FTRUNCATE},
    {"BIND", GATIO_OP_BIND},
    {"LISTEN", GATIO_OP_LISTEN},
};

// ---- the export ------------------------------------------------------------

Napi::Value ProbeIoUring(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  Napi::Object setup = Napi::Object::New(env), features = Napi::Object::New(env), opcodes = Napi::Object::New(env);
  Napi::Object details = Napi::Object::New(env);  // why a probe said no
  // Every key is always present (false until shown true): one shape for consumers.
  for (const Named& f : kSetupFlags) setup.Set(f.name, false);
  for (const Named& f : kFeatures) features.Set(f.name, false);
  for (const char* f : kProbedFeatures) features.Set(f, false);
  for (const Named& o : kOpcodes) opcodes.Set(o.name, false);
  out.Set("setupFlags", setup);
  out.Set("features", features);
  out.Set("opcodes", opcodes);
  out.Set("details", details);

  int sysctl = ReadSysctlDisabled();
  out.Set("sysctlDisabled", sysctl < 0 ? env.Null() : Napi::Number::New(env, sysctl));

  Ring ring;
  int rc = ring.init(8);
  out.Set("ok", rc == 0);
  out.Set("errno", -rc);
  if (rc < 0) {
    out.Set("error", SetupFailureReason(-rc, sysctl));
    return out;
  }
  out.Set("error", env.Null());

  for (const Named& f : kSetupFlags) {
    int err = TrySetupFlags(f.value);
    setup.Set(f.name, err == 0);
    if (err != 0 && err != EINVAL) details.Set(std::string("setup.") + f.name, ErrName(err));
  }
  for (const Named& f : kFeatures) features.Set(f.name, (ring.params.features & f.value) != 0);

  if (io_uring_probe* probe = io_uring_get_probe_ring(&ring.r)) {
    for (const Named& o : kOpcodes) opcodes.Set(o.name, io_uring_opcode_supported(probe, static_cast<int>(o.value)) != 0);
    io_uring_free_probe(probe);
  } else {
    details.Set("opcodes", "IORING_REGISTER_PROBE failed (kernel before 5.6?)");
  }

  auto record = [&](const char* name, Outcome o) {
    features.Set(name, o.ok);
    if (!o.ok) details.Set(name, o.why);
  };
  record("PBUF_RING", ProbePbufRing(ring));
  record("MULTISHOT_ACCEPT", ProbeMultishotAccept());
  record("MULTISHOT_RECV", ProbeMultishotRecv());
  record("MSG_RING_WORKS", ProbeMsgRing());
  return out;
}

}  // namespace

void InitUringProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("probeIoUring", Napi::Function::New(env, ProbeIoUring, "probeIoUring"));
}

}  // namespace gatio
