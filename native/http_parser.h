// HTTP/1.1 request parsing for the port servers (issue 8's first layer):
// llhttp 8.1's C sources from Debian's node-llhttp package, built into the
// addon with hidden symbols and in strict mode (binding.gyp: exact chunked
// framing; docs/http.md says what else it changes), plus a thin guard layer
// for the strictness fixes llhttp gained after 8.1: bare CR, obs-fold, empty
// header names, Content-Length with Transfer-Encoding, differing duplicate
// Content-Lengths, a Transfer-Encoding whose last coding is not chunked,
// oversized chunk extensions. And the limits (URL, header bytes, header
// count) that decide 414 and 431.
//
// One parser per connection. Feed() takes the bytes as they arrive (a head
// may be split across any number of buffers: its bytes are copied into the
// parser's head buffer, so the record's spans stay valid until the next
// request begins); body bytes are not copied: each body event is a span of
// the buffer given to Feed(), valid while that buffer is.
//
// No N-API here (http.cc is the binding).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gatio {

struct HttpLimits {
  uint32_t maxUrl = 16 * 1024;          // longer: 414
  uint32_t maxHeaderBytes = 16 * 1024;  // request line + headers; more: 431 (node:http's default is 16 KiB)
  uint32_t maxHeaders = 100;            // more: 431
  uint32_t maxChunkExtension = 1024;    // bytes of extensions on one chunk; more: 400
  bool requireHost = false;             // an HTTP/1.1 request without Host: 400 (RFC 9112 3.2; the port servers ask for it)
};

struct HttpSpan {
  uint32_t off = 0, len = 0;  // in HttpHead::bytes
};

struct HttpHead {
  std::string bytes;  // the method, URL and header names and values, back to back; spans point here
  std::string method;
  HttpSpan url;
  uint8_t versionMajor = 1, versionMinor = 1;
  std::vector<std::pair<HttpSpan, HttpSpan>> headers;
  bool keepAlive = false;    // llhttp_should_keep_alive: HTTP/1.1 unless "Connection: close", 1.0 only with keep-alive
  bool chunked = false;      // the body comes chunked
  bool expectContinue = false;
  bool upgrade = false;
  int64_t contentLength = -1;  // -1: none
};

enum class HttpEventType : uint8_t { kHead = 1, kBody = 2, kEnd = 3, kError = 4 };

struct HttpEvent {
  HttpEventType type;
  const uint8_t* data = nullptr;  // kBody: the bytes (in the buffer given to Feed)
  size_t len = 0;
};

// Why a request was refused, and the status to answer it with.
struct HttpError {
  int status = 400;  // 400, 413, 414, 431, 501, 505
  std::string code;  // HPE_* or GATIO_HTTP_*: what tests and stats count
  std::string reason;
};

class HttpRequestParser {
 public:
  explicit HttpRequestParser(const HttpLimits& limits);
  ~HttpRequestParser();
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses `n` bytes; appends what they complete to `out` (a head, body
  // spans, ends). Returns false on a bad request: error() says why, and
  // the connection must answer error().status and close (nothing after a
  // bad request is parsed).
  bool Feed(const uint8_t* p, size_t n, std::vector<HttpEvent>* out);

  // The head of a kHead event of the last Feed (its `len` is the index).
  const HttpHead& completed(size_t i) const;
  // Heap bytes the parser keeps between Feeds (its head slots): tests.
  size_t RetainedBytes() const;
  const HttpError& error() const { return error_; }
  const HttpLimits& limits() const { return limits_; }
  // 0: between requests (nothing of the next one yet), 1: in a head, 2: in a body.
  int phase() const;
  bool failed() const { return failed_; }

 public:
  struct Impl;  // (http_parser.cc)

 private:
  Impl* impl_;
  HttpLimits limits_;
  HttpHead head_;  // the one being read
  HttpError error_;
  bool failed_ = false;
  bool ScanHead(const char* from, const char* end);
  bool DecideMethod(const char* from, const char* end);
  friend struct HttpCallbacks;
};

}  // namespace gatio
