// The JS binding of the HTTP request parser (http_parser.h):
// - HttpWire: the HTTP port servers' parsers of one thread (src/net/http/).
//   One crossing per received buffer: feed() parses bytes already in the
//   arena (a provided buffer) and writes what they complete as records into
//   the thread's record block (in the same arena, read only by this
//   thread), which JS decodes lazily. Record layout: src/net/http/wire.ts.
// - httpParse(chunks, limits?), for tests and tools: parses the chunks in
//   order, as one connection's bytes arriving, and returns plain objects.
#include <strings.h>

#include <vector>

#include "addon.h"
#include "http_parser.h"

namespace gatio {
namespace {

HttpLimits LimitsFrom(Napi::Value v, const char* fn) {
  HttpLimits lim;
  if (!v.IsObject()) return lim;
  Napi::Object o = v.As<Napi::Object>();
  lim.maxUrl = static_cast<uint32_t>(WholeField(o, fn, "maxUrl", 1, UINT32_MAX, lim.maxUrl));
  lim.maxHeaderBytes = static_cast<uint32_t>(WholeField(o, fn, "maxHeaderBytes", 1, UINT32_MAX, lim.maxHeaderBytes));
  lim.maxHeaders = static_cast<uint32_t>(WholeField(o, fn, "maxHeaders", 1, UINT32_MAX, lim.maxHeaders));
  lim.maxChunkExtension = static_cast<uint32_t>(WholeField(o, fn, "maxChunkExtension", 0, UINT32_MAX, lim.maxChunkExtension));
  Napi::Value rh = o.Get("requireHost");
  if (!rh.IsUndefined()) {
    if (!rh.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string(fn) + ": requireHost must be true or false");
    lim.requireHost = rh.As<Napi::Boolean>().Value();
  }
  return lim;
}

// Record types and layout (little-endian; src/net/http/wire.ts reads them).
enum : uint8_t { kRecHead = 1, kRecBody = 2, kRecEnd = 3, kRecError = 4 };
enum : uint8_t { kFlagKeepAlive = 1, kFlagChunked = 2, kFlagExpectContinue = 4, kFlagUpgrade = 8 };
constexpr size_t kOutHeader = 16;  // u32 record bytes, u32 phase, then records from 16
constexpr size_t kHeadFixed = 32;

inline void Put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void Put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline size_t Align8(size_t n) { return (n + 7) & ~size_t{7}; }

class HttpWire : public Napi::ObjectWrap<HttpWire> {
 public:
  static Napi::Function Class(Napi::Env env) {
    return DefineClass(env, "HttpWire",
                       {InstanceMethod<&HttpWire::Open>("open"), InstanceMethod<&HttpWire::Close>("close"),
                        InstanceMethod<&HttpWire::Feed>("feed")});
  }

  // new HttpWire(arenaId, outOffset, outBytes): the records go to an arena
  // block the JS side allocated (and keeps for as long as this object lives).
  explicit HttpWire(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HttpWire>(info) {
    Napi::Env env = info.Env();
    arena_ = ArenaHold(env, static_cast<uint64_t>(WholeNumber(info[0], "HttpWire", "arena id", 0, kMaxSafeInteger)), "HttpWire");
    const double off = WholeNumber(info[1], "HttpWire", "record block offset", 0, static_cast<double>(arena_.bytes));
    const double len = WholeNumber(info[2], "HttpWire", "record block bytes", 64 * 1024, static_cast<double>(arena_.bytes) - off);
    out_ = arena_.base + static_cast<uint64_t>(off);
    cap_ = static_cast<size_t>(len);
  }

 private:
  // open(limits) -> parser id
  Napi::Value Open(const Napi::CallbackInfo& info) {
    HttpLimits lim = LimitsFrom(info[0], "HttpWire.open");
    // A slice of input must fit its records (Feed's bound, below).
    if (SliceFor(lim) < 64) throw Napi::RangeError::New(info.Env(), "HttpWire.open: the record buffer is too small for maxHeaderBytes " + std::to_string(lim.maxHeaderBytes));
    uint32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = static_cast<uint32_t>(parsers_.size());
      parsers_.emplace_back();
    }
    parsers_[id] = std::make_unique<HttpRequestParser>(lim);
    return Napi::Number::New(info.Env(), id);
  }

  HttpRequestParser* Get(const Napi::CallbackInfo& info, const char* fn) {
    double id = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
    if (!WholeIn(id, 0, static_cast<double>(parsers_.size()) - 1) || !parsers_[static_cast<size_t>(id)]) {
      throw Napi::RangeError::New(info.Env(), std::string(fn) + ": no open parser " + Num(id));
    }
    return parsers_[static_cast<size_t>(id)].get();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Get(info, "HttpWire.close");
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    parsers_[id].reset();
    free_.push_back(id);
    return info.Env().Undefined();
  }

  // Input bytes per parse so that its records surely fit: a head's record is
  // at most ~6.5x its bytes (16-byte spans for headers of >= 3 bytes), a
  // slice may complete a head begun earlier (<= maxHeaderBytes), and tiny
  // pipelined requests or chunks cost at most ~3x in fixed records.
  size_t SliceFor(const HttpLimits& lim) const {
    size_t reserve = kOutHeader + 7 * static_cast<size_t>(lim.maxHeaderBytes) + 1024;
    return cap_ > reserve ? (cap_ - reserve) / 10 : 0;
  }

  // feed(id, arenaOffset, len) -> input bytes consumed (<= len; call again
  // for the rest once the records are read). The records: out[16, 16 + u32 at 0).
  Napi::Value Feed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    HttpRequestParser* parser = Get(info, "HttpWire.feed");
    double off = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
    double len = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : -1;
    if (!WholeIn(off, 0, static_cast<double>(arena_.bytes)) || !WholeIn(len, 0, static_cast<double>(arena_.bytes) - off)) {
      throw Napi::RangeError::New(env, "HttpWire.feed: bytes [" + Num(off) + ", +" + Num(len) + ") are not inside the arena");
    }
    const uint8_t* in = arena_.base + static_cast<uint64_t>(off);
    size_t n = std::min(static_cast<size_t>(len), SliceFor(parser->limits()));
    events_.clear();
    bool ok = parser->Feed(in, n, &events_);
    size_t at = kOutHeader;
    for (const HttpEvent& e : events_) {
      switch (e.type) {
        case HttpEventType::kHead: at = WriteHead(env, at, parser->completed(e.len)); break;
        case HttpEventType::kBody:
          Room(env, at, 16);
          out_[at] = kRecBody;
          Put32(out_ + at + 4, 16);
          Put32(out_ + at + 8, static_cast<uint32_t>(e.data - in));
          Put32(out_ + at + 12, static_cast<uint32_t>(e.len));
          at += 16;
          break;
        default:
          Room(env, at, 8);
          out_[at] = kRecEnd;
          Put32(out_ + at + 4, 8);
          at += 8;
      }
    }
    if (!ok) {
      const HttpError& err = parser->error();
      size_t codeLen = std::min<size_t>(err.code.size(), 200), reasonLen = std::min<size_t>(err.reason.size(), 1000);
      size_t size = Align8(12 + codeLen + reasonLen);
      Room(env, at, size);
      out_[at] = kRecError;
      Put16(out_ + at + 2, static_cast<uint16_t>(err.status));
      Put32(out_ + at + 4, static_cast<uint32_t>(size));
      Put16(out_ + at + 8, static_cast<uint16_t>(codeLen));
      Put16(out_ + at + 10, static_cast<uint16_t>(reasonLen));
      std::memcpy(out_ + at + 12, err.code.data(), codeLen);
      std::memcpy(out_ + at + 12 + codeLen, err.reason.data(), reasonLen);
      at += size;
      n = static_cast<size_t>(len);  // nothing after a bad request is parsed
    }
    Put32(out_, static_cast<uint32_t>(at - kOutHeader));
    Put32(out_ + 4, static_cast<uint32_t>(parser->phase()));
    return Napi::Number::New(env, static_cast<double>(n));
  }

  void Room(Napi::Env env, size_t at, size_t n) const {
    if (at + n > cap_) throw Napi::Error::New(env, "HttpWire.feed: the records outgrew their buffer (a bug: SliceFor's bound)");
  }

  // Head record: [0] type, [1] flags, [2] u16 headers, [4] u32 size,
  // [8] f64 content length (-1: none), [16] u8 major, [17] u8 minor,
  // [18] u16 method length, [20] u32 URL offset, [24] u32 URL length,
  // [28] u32 method offset; [32] per header u32 name offset, name length,
  // value offset, value length; then the method, then the head's bytes
  // (header names lowercased). Offsets are from the record's start.
  size_t WriteHead(Napi::Env env, size_t at, const HttpHead& h) {
    const size_t nh = h.headers.size();
    const size_t methodAt = kHeadFixed + 16 * nh;
    const size_t bytesAt = methodAt + h.method.size();
    const size_t size = Align8(bytesAt + h.bytes.size());
    Room(env, at, size);
    uint8_t* r = out_ + at;
    r[0] = kRecHead;
    r[1] = (h.keepAlive ? kFlagKeepAlive : 0) | (h.chunked ? kFlagChunked : 0) | (h.expectContinue ? kFlagExpectContinue : 0) | (h.upgrade ? kFlagUpgrade : 0);
    Put16(r + 2, static_cast<uint16_t>(nh));
    Put32(r + 4, static_cast<uint32_t>(size));
    double cl = static_cast<double>(h.contentLength);
    std::memcpy(r + 8, &cl, 8);
    r[16] = h.versionMajor;
    r[17] = h.versionMinor;
    Put16(r + 18, static_cast<uint16_t>(h.method.size()));
    Put32(r + 20, static_cast<uint32_t>(bytesAt + h.url.off));
    Put32(r + 24, h.url.len);
    Put32(r + 28, static_cast<uint32_t>(methodAt));
    for (size_t i = 0; i < nh; i++) {
      const auto& [name, value] = h.headers[i];
      uint8_t* s = r + kHeadFixed + 16 * i;
      Put32(s, static_cast<uint32_t>(bytesAt + name.off));
      Put32(s + 4, name.len);
      Put32(s + 8, static_cast<uint32_t>(bytesAt + value.off));
      Put32(s + 12, value.len);
    }
    std::memcpy(r + methodAt, h.method.data(), h.method.size());
    uint8_t* b = r + bytesAt;
    std::memcpy(b, h.bytes.data(), h.bytes.size());
    for (const auto& hv : h.headers) {  // names compare exactly in JS
      for (uint32_t i = 0; i < hv.first.len; i++) {
        uint8_t& c = b[hv.first.off + i];
        if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + 32);
      }
    }
    return at + size;
  }

  HeldArena arena_;
  uint8_t* out_ = nullptr;
  size_t cap_ = 0;
  std::vector<std::unique_ptr<HttpRequestParser>> parsers_;
  std::vector<uint32_t> free_;
  std::vector<HttpEvent> events_;
};

// httpParse(chunks: Uint8Array[], limits?: { maxUrl, maxHeaderBytes, maxHeaders, maxChunkExtension })
//   -> [{ type: 'head', method, url, version, headers: [[name, value]...], keepAlive, chunked, expectContinue, upgrade, contentLength }
//       | { type: 'body', bytes } | { type: 'end' } | { type: 'error', status, code, reason }]
Napi::Value HttpParse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "httpParse";
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "httpParse: expected an array of Uint8Array chunks");
  HttpRequestParser parser(LimitsFrom(info.Length() > 1 ? info[1] : env.Undefined(), fn));
  Napi::Array chunks = info[0].As<Napi::Array>();
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  for (uint32_t i = 0; i < chunks.Length(); i++) {
    Napi::Value c = chunks.Get(i);
    if (!c.IsTypedArray()) throw Napi::TypeError::New(env, "httpParse: chunk " + std::to_string(i) + " is not a Uint8Array");
    Napi::Uint8Array bytes = c.As<Napi::Uint8Array>();
    std::vector<HttpEvent> events;
    bool ok = parser.Feed(bytes.Data(), bytes.ByteLength(), &events);
    for (const HttpEvent& e : events) {
      Napi::Object o = Napi::Object::New(env);
      if (e.type == HttpEventType::kHead) {
        const HttpHead& h = parser.completed(e.len);
        o.Set("type", "head");
        o.Set("method", h.method);
        o.Set("url", h.bytes.substr(h.url.off, h.url.len));
        o.Set("version", std::to_string(h.versionMajor) + "." + std::to_string(h.versionMinor));
        Napi::Array hs = Napi::Array::New(env);
        for (uint32_t j = 0; j < h.headers.size(); j++) {
          Napi::Array pair = Napi::Array::New(env);
          pair.Set(0u, h.bytes.substr(h.headers[j].first.off, h.headers[j].first.len));
          pair.Set(1u, h.bytes.substr(h.headers[j].second.off, h.headers[j].second.len));
          hs.Set(j, pair);
        }
        o.Set("headers", hs);
        o.Set("keepAlive", h.keepAlive);
        o.Set("chunked", h.chunked);
        o.Set("expectContinue", h.expectContinue);
        o.Set("upgrade", h.upgrade);
        o.Set("contentLength", static_cast<double>(h.contentLength));
      } else if (e.type == HttpEventType::kBody) {
        o.Set("type", "body");
        o.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, e.data, e.len));
      } else {
        o.Set("type", "end");
      }
      out.Set(k++, o);
    }
    if (!ok) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "error");
      o.Set("status", parser.error().status);
      o.Set("code", parser.error().code);
      o.Set("reason", parser.error().reason);
      out.Set(k++, o);
      break;
    }
  }
  out.Set("retained", static_cast<double>(parser.RetainedBytes()));
  return out;
}

}  // namespace

void InitHttp(Napi::Env env, Napi::Object exports) {
  exports.Set("httpParse", Napi::Function::New(env, HttpParse, "httpParse"));
  exports.Set("HttpWire", HttpWire::Class(env));
}

}  // namespace gatio
