// The JS binding of the HTTP request parser (http_parser.h), for tests and
// tools: httpParse(chunks, limits?) parses the chunks in order, as one
// connection's bytes arriving, and returns what the port server will see.
#include "addon.h"
#include "http_parser.h"

namespace gatio {
namespace {

// httpParse(chunks: Uint8Array[], limits?: { maxUrl, maxHeaderBytes, maxHeaders, maxChunkExtension })
//   -> [{ type: 'head', method, url, version, headers: [[name, value]...], keepAlive, chunked, expectContinue, upgrade, contentLength }
//       | { type: 'body', bytes } | { type: 'end' } | { type: 'error', status, code, reason }]
Napi::Value HttpParse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "httpParse";
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "httpParse: expected an array of Uint8Array chunks");
  HttpLimits lim;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    lim.maxUrl = static_cast<uint32_t>(WholeField(o, fn, "maxUrl", 1, UINT32_MAX, lim.maxUrl));
    lim.maxHeaderBytes = static_cast<uint32_t>(WholeField(o, fn, "maxHeaderBytes", 1, UINT32_MAX, lim.maxHeaderBytes));
    lim.maxHeaders = static_cast<uint32_t>(WholeField(o, fn, "maxHeaders", 1, UINT32_MAX, lim.maxHeaders));
    lim.maxChunkExtension = static_cast<uint32_t>(WholeField(o, fn, "maxChunkExtension", 0, UINT32_MAX, lim.maxChunkExtension));
  }
  HttpRequestParser parser(lim);
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
  return out;
}

}  // namespace

void InitHttp(Napi::Env env, Napi::Object exports) { exports.Set("httpParse", Napi::Function::New(env, HttpParse, "httpParse")); }

}  // namespace gatio
