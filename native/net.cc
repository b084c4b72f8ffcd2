// The JS binding of the port servers (net_engine.h) of a driver's ring.
// Setup and inspection only: listening, starting, stopping, peers, stats.
// The data path never calls in here: data, writes and buffer returns
// travel as events and ring commands through ringTurn (ring.cc).
#include <arpa/inet.h>

#include <algorithm>

#include "ring_box.h"

namespace gatio {

namespace {

NetEngine& Engine(const Napi::CallbackInfo& info, Box* b, const char* fn) {
  if (!b->net) throw CodedError(info.Env(), std::string(fn) + ": ring " + std::to_string(b->id) + " has no port servers (netAttach first)", "GATIO_NET_NOT_ATTACHED");
  return *b->net;
}

// Submits what Start/Stop queued now (the loop's next turn would wait for
// a reason to turn) and publishes the ring's in-flight count, which is
// what tells the loop it has ops to reap.
void Kick(Box* b) {
  std::string why;
  b->ring.Submit(0, &why);
  WriteStats(b);
}

// The block is the ring's from now on (see Box::netBlocks).
void TakeBlock(Box* b, uint64_t off) { b->netBlocks.push_back(off); }

// netAttach(ringId, { block, events, slots, staging }): the block is a
// 64-byte header (u32 0: event count, u32 1: events JS handled), `events`
// * 16 bytes of events, `slots` u32 send-queue sizes (one per connection
// slot), then (64-aligned) `staging` bytes for JS's outgoing bytes
// (src/drivers/protocol/net.ts).
Napi::Value NetAttach(const Napi::CallbackInfo& info) {
  const char* fn = "netAttach";
  Box* b = OwnRing(info, fn);
  if (b->net) throw CodedError(info.Env(), "netAttach: ring " + std::to_string(b->id) + " already has port servers", "GATIO_NET_ATTACHED");
  Napi::Object o = info[1].As<Napi::Object>();
  uint64_t off = static_cast<uint64_t>(WholeNumber(o.Get("block"), fn, "block", 0, kMaxSafeInteger));
  unsigned events = static_cast<unsigned>(WholeNumber(o.Get("events"), fn, "events", 16, 1 << 20));
  unsigned slots = static_cast<unsigned>(WholeNumber(o.Get("slots"), fn, "slots", 1, 1 << 20));
  uint64_t staging = static_cast<uint64_t>(WholeNumber(o.Get("staging"), fn, "staging", 0, 1 << 30));
  uint64_t need = (64 + uint64_t{events} * sizeof(NetEvent) + uint64_t{slots} * 4 + 63) / 64 * 64 + staging;
  if (off % 64 || off + need > b->arena.bytes) throw Napi::RangeError::New(info.Env(), "netAttach: the event block is not a 64-byte aligned range of the arena");
  uint8_t* p = b->arena.base + off;
  Box* box = b;
  b->net = std::make_unique<NetEngine>(
      &b->ring, b->arena.base, b->arena.bytes, reinterpret_cast<uint32_t*>(p), reinterpret_cast<NetEvent*>(p + 64), events,
      reinterpret_cast<uint32_t*>(p + 64 + uint64_t{events} * sizeof(NetEvent)), slots, [box](uint64_t blk) {
        auto it = std::find(box->netBlocks.begin(), box->netBlocks.end(), blk);
        if (it == box->netBlocks.end()) return;
        box->netBlocks.erase(it);
        ArenaFreeBlock(box->arena, blk);
      });
  b->ring.SetSink(b->net.get());
  TakeBlock(b, off);
  return info.Env().Undefined();
}

bool ParseAddr(const std::string& host, int port, sockaddr_storage* out, socklen_t* len) {
  std::memset(out, 0, sizeof *out);
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *v4;
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *v6;
    return true;
  }
  return false;
}

// A list of CPU numbers (steering), or none.
std::vector<int> Cpus(Napi::Value v, const char* fn) {
  std::vector<int> out;
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(static_cast<int>(WholeNumber(a.Get(i), fn, "steer[i]", 0, 1 << 20)));
  return out;
}

// netListen(ringId, spec) -> { server, fd, port, backlog, rcvBuf, sndBuf, reusePort, noDelay }
// spec: { protocol, host, port, backlog, reusePort, noDelay, rcvBuf, sndBuf,
//         bufBlock, bufCount, bufSize, maxConnections, highWater, maxQueued }
// The buffer block becomes the ring's (freed when the server has stopped and drained).
Napi::Value NetListen(const Napi::CallbackInfo& info) {
  const char* fn = "netListen";
  Napi::Env env = info.Env();
  Box* b = OwnRing(info, fn);
  NetEngine& net = Engine(info, b, fn);
  Napi::Object o = info[1].As<Napi::Object>();
  ListenSpec spec;
  std::string proto = o.Get("protocol").ToString().Utf8Value();
  if (proto != "tcp" && proto != "udp") throw Napi::RangeError::New(env, "netListen: protocol must be 'tcp' or 'udp', got '" + proto + "'");
  spec.udp = proto == "udp";
  std::string host = o.Get("host").ToString().Utf8Value();
  int port = static_cast<int>(WholeNumber(o.Get("port"), fn, "port", 0, 65535));
  if (!ParseAddr(host, port, &spec.addr, &spec.addrLen)) throw Napi::RangeError::New(env, "netListen: host '" + host + "' is not an IPv4 or IPv6 address");
  spec.backlog = static_cast<int>(WholeField(o, fn, "backlog", 1, 1 << 20, 1024));
  spec.reusePort = o.Get("reusePort").ToBoolean();
  spec.noDelay = o.Get("noDelay").ToBoolean();
  spec.rcvBuf = static_cast<int>(WholeField(o, fn, "rcvBuf", 0, 1 << 30, 0));
  spec.forceRcvBuf = o.Get("forceRcvBuf").ToBoolean();
  spec.sndBuf = static_cast<int>(WholeField(o, fn, "sndBuf", 0, 1 << 30, 0));
  spec.bufBlock = static_cast<uint64_t>(WholeNumber(o.Get("bufBlock"), fn, "bufBlock", 0, kMaxSafeInteger));
  spec.bufCount = static_cast<unsigned>(WholeNumber(o.Get("bufCount"), fn, "bufCount", 1, 32768));
  spec.bufSize = static_cast<unsigned>(WholeNumber(o.Get("bufSize"), fn, "bufSize", 64, 1 << 24));
  spec.maxConnections = static_cast<unsigned>(WholeField(o, fn, "maxConnections", 0, 1 << 20, 65536));
  spec.highWater = static_cast<uint32_t>(WholeField(o, fn, "highWater", 0, UINT32_MAX, 1 << 20));
  spec.maxQueued = static_cast<uint32_t>(WholeField(o, fn, "maxQueued", 0, UINT32_MAX, 64u << 20));
  spec.steer = Cpus(o.Get("steer"), fn);
  ListenResult r;
  std::string why;
  int rc = net.Listen(spec, &r, &why);
  if (rc < 0) ThrowErrno(env, "netListen: " + proto + " " + host + ":" + std::to_string(port) + ": " + why, -rc);
  TakeBlock(b, spec.bufBlock);
  Napi::Object out = Napi::Object::New(env);
  out.Set("server", rc);
  out.Set("fd", r.fd);
  out.Set("port", r.port);
  out.Set("backlog", r.backlog);
  out.Set("rcvBuf", r.rcvBuf);
  out.Set("sndBuf", r.sndBuf);
  out.Set("reusePort", r.reusePort);
  out.Set("noDelay", r.noDelay);
  return out;
}

Napi::Value NetStart(const Napi::CallbackInfo& info) {
  Box* b = OwnRing(info, "netStart");
  std::string why;
  int rc = Engine(info, b, "netStart").Start(static_cast<int>(WholeNumber(info[1], "netStart", "server", 0, 254)), &why);
  if (rc < 0) ThrowErrno(info.Env(), "netStart: " + why, -rc);
  Kick(b);
  return info.Env().Undefined();
}

// netStop(ringId, server, closeConnections)
Napi::Value NetStop(const Napi::CallbackInfo& info) {
  Box* b = OwnRing(info, "netStop");
  Engine(info, b, "netStop").Stop(static_cast<int>(WholeNumber(info[1], "netStop", "server", 0, 254)), info[2].ToBoolean());
  Kick(b);
  return info.Env().Undefined();
}

Napi::Value AddrObject(Napi::Env env, const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = "";
  Napi::Object o = Napi::Object::New(env);
  if (a.ss_family == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
    o.Set("family", "IPv4");
    o.Set("port", ntohs(v4->sin_port));
  } else {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    o.Set("family", "IPv6");
    o.Set("port", ntohs(v6->sin6_port));
  }
  o.Set("address", buf);
  return o;
}

// netPeer(ringId, conn) -> { address, port, family } | null (closed)
Napi::Value NetPeer(const Napi::CallbackInfo& info) {
  Box* b = OwnRing(info, "netPeer");
  sockaddr_storage a{};
  socklen_t len = 0;
  if (Engine(info, b, "netPeer").Peer(static_cast<uint32_t>(WholeNumber(info[1], "netPeer", "conn", 0, UINT32_MAX)), &a, &len) < 0) return info.Env().Null();
  return AddrObject(info.Env(), a);
}

// netStats(ringId, server) -> counters | null
Napi::Value NetStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Box* b = OwnRing(info, "netStats");
  NetServerStats s;
  if (!Engine(info, b, "netStats").ServerStats(static_cast<int>(WholeNumber(info[1], "netStats", "server", 0, 254)), &s)) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* k, uint64_t v) { o.Set(k, static_cast<double>(v)); };
  set("accepted", s.accepted);
  set("refused", s.refused);
  set("open", s.open);
  set("closed", s.closed);
  set("bytesIn", s.bytesIn);
  set("bytesOut", s.bytesOut);
  set("recvs", s.recvs);
  set("sends", s.sends);
  set("sendsInFlight", s.sendsInFlight);
  set("enobufs", s.enobufs);
  set("rearms", s.rearms);
  set("buffersLent", s.buffersLent);
  set("acceptErrors", s.acceptErrors);
  set("acceptBackoffs", s.acceptBackoffs);
  set("datagrams", s.datagrams);
  set("truncated", s.truncated);
  set("sendErrors", s.sendErrors);
  set("incomingLocal", s.incomingLocal);
  set("incomingOther", s.incomingOther);
  set("throttles", s.throttles);
  return o;
}

}  // namespace

void InitNet(Napi::Env env, Napi::Object exports) {
  exports.Set("netAttach", Napi::Function::New(env, NetAttach, "netAttach"));
  exports.Set("netListen", Napi::Function::New(env, NetListen, "netListen"));
  exports.Set("netStart", Napi::Function::New(env, NetStart, "netStart"));
  exports.Set("netStop", Napi::Function::New(env, NetStop, "netStop"));
  exports.Set("netPeer", Napi::Function::New(env, NetPeer, "netPeer"));
  exports.Set("netStats", Napi::Function::New(env, NetStats, "netStats"));
}

}  // namespace gatio
