// HTTP/1.1 request parsing: llhttp plus the guards and limits (see http_parser.h).
#include "http_parser.h"

#include <llhttp.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>
#include <strings.h>
#include <arpa/inet.h>

namespace gatio {

struct HttpRequestParser::Impl {
  llhttp_t p;
  llhttp_settings_t s;
  HttpRequestParser* self = nullptr;
  std::vector<HttpEvent>* out = nullptr;
  std::vector<HttpHead> done;  // heads completed by this Feed (pipelining): kHead events index them
  size_t nDone = 0;            // how many of `done` this Feed filled

  // The head being read.
  bool inHead = true;
  uint32_t headBytes = 0;
  enum { kNone, kField, kValue } last = kNone;
  HttpSpan field, value;
  uint32_t urlLen = 0;
  std::vector<std::string> contentLengths;
  uint32_t hosts = 0;
  bool sawVersion = false;  // the request line named a version (llhttp takes "GET /" alone as HTTP/0.9)
  std::string transferEncoding;
  // Raw scan of the head's bytes (bare CR, obs-fold), across buffers.
  bool prevCR = false, prevLF = false, seenRequestLine = false;
  uint32_t chunkExt = 0;
  enum { kNoPause, kAtBegin, kAtHeadEnd } pause = kNoPause;
  // An unknown method's bytes so far, when they ran to the end of a buffer (501 or 400 is decided by what ends them).
  bool methodPending = false;
  uint32_t methodRun = 0;  // why llhttp_execute returned HPE_PAUSED
};

namespace {

HttpRequestParser::Impl* ImplOf(llhttp_t* p) { return static_cast<HttpRequestParser::Impl*>(p->data); }

// The letters, the digits, and `extra`: a byte class as a table.
struct ByteSet {
  bool t[256] = {};
  constexpr explicit ByteSet(const char* extra) {
    for (int c = '0'; c <= '9'; c++) t[c] = true;
    for (int c = 'a'; c <= 'z'; c++) t[c] = true;
    for (int c = 'A'; c <= 'Z'; c++) t[c] = true;
    for (const char* p = extra; *p; p++) t[static_cast<unsigned char>(*p)] = true;
  }
  constexpr bool operator[](unsigned char c) const { return t[c]; }
};
// RFC 9110 tchar: the bytes a header name may hold.
constexpr ByteSet kToken("!#$%&'*+-.^_`|~");
// RFC 3986 reg-name bytes (unreserved, sub-delims; an IPv4 address is one
// too), less two it allows: ',' (in a Host it is two values joined, RFC
// 9110 5.3) and '%' (pct-encoded: no client sends it, IDNA names go as
// A-labels, and a decoded '/' or '@' would move the authority's end).
constexpr ByteSet kRegName("-._~!$&'()*+;=");

// A Host value (RFC 9112 3.2: uri-host [":" port]): null if valid, else why
// not. The fetch adapter builds request.url from it, so nothing but an
// authority may pass ("x/admin?" would route the app to /admin).
const char* InvalidHost(const char* s, size_t n) {
  if (n == 0) return "an empty Host";
  size_t i = 0;
  if (s[0] == '[') {
    const void* close = std::memchr(s, ']', n);
    if (!close) return "a Host with an unclosed IP literal";
    i = static_cast<size_t>(static_cast<const char*>(close) - s) + 1;
    const std::string lit(s + 1, i - 2);
    in6_addr a;
    // (IPvFuture and zone ids name nothing a server here is reached by)
    if (inet_pton(AF_INET6, lit.c_str(), &a) != 1) return "a Host whose IP literal is not an IPv6 address";
  } else {
    while (i < n && s[i] != ':') {
      if (!kRegName[static_cast<unsigned char>(s[i])]) return "a Host holding a character a host name may not (a list, a space, a path, userinfo?)";
      i++;
    }
    if (i == 0) return "a Host with an empty host name";
  }
  if (i == n) return nullptr;
  if (s[i] != ':') return "a Host with bytes after its IP literal";
  uint32_t port = 0;
  for (i++; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return "a Host whose port is not a number";
    if ((port = port * 10 + static_cast<uint32_t>(s[i] - '0')) > 65535) return "a Host whose port is over 65535";
  }
  return nullptr;  // (an empty port is allowed: RFC 3986 3.2.3)
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

}  // namespace

// The callbacks llhttp calls; a non-zero return stops the parser with HPE_USER
// (the reason is in error_ by then).
struct HttpCallbacks {
  static int Fail(HttpRequestParser::Impl* m, int status, const char* code, const std::string& reason) {
    HttpError& e = m->self->error_;
    e.status = status;
    e.code = code;
    e.reason = reason;
    m->self->failed_ = true;
    llhttp_set_error_reason(&m->p, "gatio guard");
    return HPE_USER;
  }

  static int Count(HttpRequestParser::Impl* m, size_t n) {
    m->headBytes += static_cast<uint32_t>(n);
    if (m->headBytes > m->self->limits_.maxHeaderBytes) {
      return Fail(m, 431, "GATIO_HTTP_HEADERS_TOO_LARGE", "the request line and headers exceed " + std::to_string(m->self->limits_.maxHeaderBytes) + " bytes");
    }
    return 0;
  }

  static int MessageBegin(llhttp_t* p) {
    auto* m = ImplOf(p);
    HttpHead& h = m->self->head_;
    // Cleared, not replaced: the strings and vectors keep their capacity (no allocation per request).
    h.bytes.clear();
    h.method.clear();
    h.url = {};
    h.headers.clear();
    h.keepAlive = h.chunked = h.expectContinue = h.upgrade = false;
    h.contentLength = -1;
    m->inHead = true;
    m->headBytes = 0;
    m->last = HttpRequestParser::Impl::kNone;
    m->urlLen = 0;
    m->contentLengths.clear();
    m->hosts = 0;
    m->sawVersion = false;
    m->transferEncoding.clear();
    m->seenRequestLine = false;
    m->prevCR = m->prevLF = false;
    m->pause = HttpRequestParser::Impl::kAtBegin;
    return HPE_PAUSED;  // Feed notes where the head starts (its raw bytes are checked)
  }

  static int Method(llhttp_t* p, const char* at, size_t n) {
    auto* m = ImplOf(p);
    if (int e = Count(m, n)) return e;
    m->self->head_.method.append(at, n);
    return 0;
  }

  static int Version(llhttp_t* p, const char*, size_t) {
    ImplOf(p)->sawVersion = true;
    return 0;
  }

  static int Url(llhttp_t* p, const char* at, size_t n) {
    auto* m = ImplOf(p);
    HttpHead& h = m->self->head_;
    if (m->urlLen == 0) h.url.off = static_cast<uint32_t>(h.bytes.size());
    m->urlLen += static_cast<uint32_t>(n);
    if (m->urlLen > m->self->limits_.maxUrl) return Fail(m, 414, "GATIO_HTTP_URL_TOO_LONG", "the URL is longer than " + std::to_string(m->self->limits_.maxUrl) + " bytes");
    if (int e = Count(m, n)) return e;
    h.bytes.append(at, n);
    h.url.len = m->urlLen;
    return 0;
  }

  // A header name or value arrives in pieces (a head split across buffers): appended to the head's bytes, one span.
  static int Piece(llhttp_t* p, const char* at, size_t n, decltype(HttpRequestParser::Impl::last) kind, HttpSpan HttpRequestParser::Impl::*span) {
    auto* m = ImplOf(p);
    if (int e = Count(m, n)) return e;
    HttpHead& h = m->self->head_;
    if (m->last != kind) {
      m->*span = {static_cast<uint32_t>(h.bytes.size()), 0};
      m->last = kind;
    }
    h.bytes.append(at, n);
    (m->*span).len += static_cast<uint32_t>(n);
    return 0;
  }
  static int HeaderField(llhttp_t* p, const char* at, size_t n) { return Piece(p, at, n, HttpRequestParser::Impl::kField, &HttpRequestParser::Impl::field); }
  static int HeaderValue(llhttp_t* p, const char* at, size_t n) { return Piece(p, at, n, HttpRequestParser::Impl::kValue, &HttpRequestParser::Impl::value); }

  static int HeaderValueComplete(llhttp_t* p) {
    auto* m = ImplOf(p);
    HttpHead& h = m->self->head_;
    if (m->last == HttpRequestParser::Impl::kField) m->value = {static_cast<uint32_t>(h.bytes.size()), 0};  // an empty value
    m->last = HttpRequestParser::Impl::kNone;
    // Trailing whitespace is not part of a field value (RFC 9112 5; llhttp drops the leading only).
    while (m->value.len > 0 && (h.bytes[m->value.off + m->value.len - 1] == ' ' || h.bytes[m->value.off + m->value.len - 1] == '\t')) m->value.len--;
    if (m->field.len == 0) return Fail(m, 400, "GATIO_HTTP_EMPTY_HEADER_NAME", "a header line has no name");
    // A name is a token: no whitespace before the colon (RFC 9112 5.1: a server must reject it), no other separators.
    for (uint32_t i = 0; i < m->field.len; i++) {
      const unsigned char c = static_cast<unsigned char>(h.bytes[m->field.off + i]);
      if (!kToken[c]) {
        return Fail(m, 400, "GATIO_HTTP_HEADER_NAME", std::string("a header name holds ") + (c == ' ' || c == '\t' ? "whitespace (before its colon?)" : "a character a token may not"));
      }
    }
    if (h.headers.size() >= m->self->limits_.maxHeaders) return Fail(m, 431, "GATIO_HTTP_TOO_MANY_HEADERS", "more than " + std::to_string(m->self->limits_.maxHeaders) + " headers");
    h.headers.emplace_back(m->field, m->value);
    // The three names the guards need, compared in place (no copy per header).
    const char* name = h.bytes.data() + m->field.off;
    auto is = [&](const char* want, uint32_t n) { return m->field.len == n && strncasecmp(name, want, n) == 0; };
    if (is("content-length", 14)) m->contentLengths.push_back(Trim(h.bytes.substr(m->value.off, m->value.len)));
    else if (is("transfer-encoding", 17)) m->transferEncoding += (m->transferEncoding.empty() ? "" : ",") + h.bytes.substr(m->value.off, m->value.len);
    else if (is("host", 4)) {
      m->hosts++;
      if (const char* why = InvalidHost(h.bytes.data() + m->value.off, m->value.len)) return Fail(m, 400, "GATIO_HTTP_HOST", why);
    }
    else if (is("expect", 6) && Lower(Trim(h.bytes.substr(m->value.off, m->value.len))) == "100-continue") h.expectContinue = true;
    m->field = {};
    return 0;
  }

  static int HeadersComplete(llhttp_t* p) {
    auto* m = ImplOf(p);
    HttpHead& h = m->self->head_;
    h.versionMajor = p->http_major;
    h.versionMinor = p->http_minor;
    // llhttp (with LENIENT_VERSION) has checked "HTTP/" DIGIT "." DIGIT CRLF;
    // which versions are served is decided here: any 1.x (1.2 and up as 1.1,
    // RFC 9110 2.5), 505 for a well-formed other one.
    if (!m->sawVersion) return Fail(m, 400, "GATIO_HTTP_REQUEST_LINE", "a request line without an HTTP version (HTTP/0.9 is not served)");
    if (h.versionMajor != 1) return Fail(m, 505, "GATIO_HTTP_VERSION", "HTTP/" + std::to_string(h.versionMajor) + "." + std::to_string(h.versionMinor) + " is not served (HTTP/1.x is)");
    // Host (RFC 9112 3.2): more than one is refused; none, on HTTP/1.1, when the server requires it.
    if (m->hosts > 1) return Fail(m, 400, "GATIO_HTTP_HOST", "more than one Host header");
    if (m->hosts == 0 && h.versionMinor >= 1 && m->self->limits_.requireHost) return Fail(m, 400, "GATIO_HTTP_HOST", "an HTTP/1.1 request without a Host header");
    // Content-Length: every copy must say the same (then it counts once).
    for (const std::string& cl : m->contentLengths) {
      if (cl != m->contentLengths[0]) return Fail(m, 400, "GATIO_HTTP_CONTENT_LENGTH", "Content-Length given twice with different values (" + m->contentLengths[0] + ", " + cl + ")");
    }
    if (!m->transferEncoding.empty()) {
      if (!m->contentLengths.empty()) return Fail(m, 400, "GATIO_HTTP_CL_AND_TE", "both Content-Length and Transfer-Encoding (a request smuggling vector)");
      // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing (a 1.0 intermediary reads it by Content-Length or close).
      if (h.versionMinor == 0) return Fail(m, 400, "GATIO_HTTP_TRANSFER_ENCODING", "Transfer-Encoding in an HTTP/1.0 request (its framing is faulty: RFC 9112 6.1)");
      std::string te = Lower(m->transferEncoding);
      size_t comma = te.find_last_of(',');
      std::string lastCoding = Trim(comma == std::string::npos ? te : te.substr(comma + 1));
      if (lastCoding != "chunked") return Fail(m, 400, "GATIO_HTTP_TRANSFER_ENCODING", "Transfer-Encoding must end with chunked (got \"" + m->transferEncoding + "\")");
      h.chunked = true;
    }
    // A CONNECT has no content (RFC 9110 9.3.6): llhttp ends the request at
    // its head, so its body would be parsed as the next request (smuggled).
    if (p->method == HTTP_CONNECT && (h.chunked || (!m->contentLengths.empty() && p->content_length > 0))) {
      return Fail(m, 400, "GATIO_HTTP_CONNECT_BODY", "a CONNECT request with content (it has none: RFC 9110 9.3.6)");
    }
    if (!m->contentLengths.empty()) {
      // llhttp reads up to 2^64 - 1 (unsigned); JS holds 2^53 - 1 exactly, which is also maxBody's ceiling (2^63 once came out negative).
      if (p->content_length > (uint64_t{1} << 53) - 1) return Fail(m, 413, "GATIO_HTTP_CONTENT_LENGTH", "Content-Length " + m->contentLengths[0] + " is larger than any body served (2^53 - 1 bytes)");
      h.contentLength = static_cast<int64_t>(p->content_length);
    }
    h.keepAlive = llhttp_should_keep_alive(p) != 0;
    h.upgrade = p->upgrade != 0;
    m->inHead = false;
    // Assigned into a kept slot: its strings and vectors keep their capacity.
    if (m->done.size() <= m->nDone) m->done.emplace_back();
    m->done[m->nDone++] = h;  // its event is pushed by Feed, once the head's raw bytes passed the scan
    // Stop here: Feed checks the head's raw bytes (bare CR, obs-fold) before any body is parsed.
    m->pause = HttpRequestParser::Impl::kAtHeadEnd;
    return HPE_PAUSED;
  }

  static int Body(llhttp_t* p, const char* at, size_t n) {
    ImplOf(p)->out->push_back({HttpEventType::kBody, reinterpret_cast<const uint8_t*>(at), n});
    return 0;
  }

  static int MessageComplete(llhttp_t* p) {
    auto* m = ImplOf(p);
    m->out->push_back({HttpEventType::kEnd, nullptr, 0});
    m->inHead = true;
    m->headBytes = 0;
    m->prevCR = m->prevLF = false;
    return 0;
  }

  static int ChunkHeader(llhttp_t* p) {
    ImplOf(p)->chunkExt = 0;
    return 0;
  }

  static int ChunkExtension(llhttp_t* p, const char* at, size_t n) {
    auto* m = ImplOf(p);
    m->chunkExt += static_cast<uint32_t>(n);
    if (m->chunkExt > m->self->limits_.maxChunkExtension) return Fail(m, 400, "GATIO_HTTP_CHUNK_EXTENSION", "chunk extensions longer than " + std::to_string(m->self->limits_.maxChunkExtension) + " bytes");
    return 0;
  }
};

HttpRequestParser::HttpRequestParser(const HttpLimits& limits) : impl_(new Impl), limits_(limits) {
  Impl& m = *impl_;
  m.self = this;
  llhttp_settings_init(&m.s);
  m.s.on_message_begin = HttpCallbacks::MessageBegin;
  m.s.on_method = HttpCallbacks::Method;
  m.s.on_url = HttpCallbacks::Url;
  m.s.on_version = HttpCallbacks::Version;
  m.s.on_header_field = HttpCallbacks::HeaderField;
  m.s.on_header_value = HttpCallbacks::HeaderValue;
  m.s.on_header_value_complete = HttpCallbacks::HeaderValueComplete;
  m.s.on_headers_complete = HttpCallbacks::HeadersComplete;
  m.s.on_body = HttpCallbacks::Body;
  m.s.on_message_complete = HttpCallbacks::MessageComplete;
  m.s.on_chunk_header = HttpCallbacks::ChunkHeader;
  m.s.on_chunk_extension_name = HttpCallbacks::ChunkExtension;
  m.s.on_chunk_extension_value = HttpCallbacks::ChunkExtension;
  llhttp_init(&m.p, HTTP_REQUEST, &m.s);
  // llhttp 8.1 refuses a well-formed version it does not know (HTTP/1.2,
  // HTTP/3.1) with the same error as a malformed one (HTTP/1.10): lenient, it
  // checks the syntax only, and HeadersComplete decides 505 or serving.
  m.p.lenient_flags |= LENIENT_VERSION;
  m.p.data = impl_;
}

HttpRequestParser::~HttpRequestParser() { delete impl_; }

const HttpHead& HttpRequestParser::completed(size_t i) const {
  if (i >= impl_->nDone) throw std::out_of_range("HttpRequestParser::completed");
  return impl_->done[i];
}

int HttpRequestParser::phase() const {
  if (!impl_->inHead) return 2;
  return impl_->headBytes > 0 ? 1 : 0;
}

// llhttp refused the method: 501 if it is a token followed by a space (a
// method we do not know, RFC 9110 15.6.2), else 400 ("G\rET /" or
// "garbage\r\n" is a malformed request line). `from` is where the method
// (or, begun in an earlier buffer, this buffer) starts. A token running to
// the buffer's end is decided by the next one: true, undecided.
bool HttpRequestParser::DecideMethod(const char* from, const char* end) {
  Impl& m = *impl_;
  const char* q = from;
  while (q < end && kToken[static_cast<unsigned char>(*q)]) q++;
  m.methodRun += static_cast<uint32_t>(q - from);
  m.methodPending = q == end && m.methodRun <= limits_.maxHeaderBytes;
  if (m.methodPending) return true;
  error_.status = q < end && *q == ' ' && m.methodRun > 0 ? 501 : 400;
  failed_ = true;
  return false;
}

// The raw bytes of a head (llhttp 8.1 lets a bare CR and obs-fold through).
bool HttpRequestParser::ScanHead(const char* q, const char* end) {
  Impl& m = *impl_;
  for (; q < end; q++) {
    // Most bytes are neither CR nor LF nor right after one: skip them in a tight loop.
    if (!m.prevCR && !m.prevLF) {
      while (q < end && static_cast<unsigned char>(*q) > '\r') q++;
      if (q == end) break;
    }
    const char c = *q;
    if (m.prevCR && c != '\n') {
      error_ = {400, "GATIO_HTTP_BARE_CR", "a CR not followed by LF in the request head"};
      failed_ = true;
      return false;
    }
    if (m.prevLF && m.seenRequestLine && (c == ' ' || c == '\t')) {
      error_ = {400, "GATIO_HTTP_OBS_FOLD", "a header line continued on the next line (obsolete line folding)"};
      failed_ = true;
      return false;
    }
    if (c == '\n') m.seenRequestLine = true;
    m.prevCR = c == '\r';
    m.prevLF = c == '\n';
  }
  return true;
}

namespace {
constexpr size_t kKeptSlots = 4;
constexpr size_t kKeptBytes = 8 * 1024;
constexpr size_t kKeptHeaders = 64;
// A slot's strings and vectors keep their capacity between requests (no allocation per request), up to a point.
void Slim(HttpHead& h) {
  if (h.bytes.capacity() > kKeptBytes) std::string().swap(h.bytes);
  if (h.method.capacity() > 64) std::string().swap(h.method);
  if (h.headers.capacity() > kKeptHeaders) decltype(h.headers)().swap(h.headers);
}
size_t HeadBytes(const HttpHead& h) { return sizeof h + h.bytes.capacity() + h.method.capacity() + h.headers.capacity() * sizeof h.headers[0]; }
}  // namespace

size_t HttpRequestParser::RetainedBytes() const {
  size_t n = HeadBytes(head_) + (impl_->done.capacity() - impl_->done.size()) * sizeof(HttpHead);
  for (const HttpHead& h : impl_->done) n += HeadBytes(h);
  return n;
}

bool HttpRequestParser::Feed(const uint8_t* data, size_t n, std::vector<HttpEvent>* out) {
  if (failed_) return false;
  Impl& m = *impl_;
  if (m.methodPending) return DecideMethod(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + n);
  m.out = out;
  if (out->empty()) {
    m.nDone = 0;
    // A burst of pipelined heads, or one large head, keeps no memory for the
    // connection's life: a few slots stay, each with a modest capacity.
    if (m.done.size() > kKeptSlots) m.done.resize(kKeptSlots), m.done.shrink_to_fit();
    for (HttpHead& h : m.done) Slim(h);
    if (!m.inHead || m.headBytes == 0) Slim(head_);
  }
  const char* p = reinterpret_cast<const char*>(data);
  const char* const end = p + n;
  // Where the head being read started in this buffer (its start, for one begun earlier), or null between heads.
  const char* headFrom = m.inHead && m.headBytes > 0 ? p : nullptr;
  auto fail = [&](llhttp_errno_t rc) {
    if (failed_) return false;
    error_.status = 400;
    error_.code = llhttp_errno_name(rc);
    error_.reason = llhttp_get_error_reason(&m.p) ? llhttp_get_error_reason(&m.p) : "malformed request";
    if (rc == HPE_INVALID_METHOD) {
      m.methodRun = 0;
      return DecideMethod(headFrom ? headFrom : llhttp_get_error_pos(&m.p), end);
    }
    failed_ = true;
    return false;
  };
  while (p < end || m.pause == Impl::kAtHeadEnd) {
    m.pause = Impl::kNoPause;
    llhttp_errno_t rc = llhttp_execute(&m.p, p, static_cast<size_t>(end - p));
    if (rc == HPE_PAUSED_UPGRADE) {
      // CONNECT or Upgrade: the request is complete (its kEnd is out). The
      // server does not switch protocols (no 101, no tunnel): the request is
      // answered like any other and the connection stays HTTP, so parsing
      // goes on where llhttp stopped (the next pipelined request).
      const char* at = llhttp_get_error_pos(&m.p);
      llhttp_resume_after_upgrade(&m.p);
      m.pause = Impl::kNoPause;
      headFrom = nullptr;
      p = at;
      continue;
    }
    // Strict mode refuses bytes after a request that closes the connection;
    // the server is ending it and reads no further request: ignore them (and
    // every later buffer: llhttp keeps returning this).
    if (rc == HPE_CLOSED_CONNECTION) return true;
    if (rc != HPE_OK && rc != HPE_PAUSED) return fail(rc);
    const char* stop = rc == HPE_PAUSED ? llhttp_get_error_pos(&m.p) : end;
    if (rc == HPE_PAUSED) llhttp_resume(&m.p);
    if (m.pause == Impl::kAtBegin) {
      headFrom = stop;  // a new head starts here (what came before was the last message's body)
    } else if (m.pause == Impl::kAtHeadEnd) {
      if (!ScanHead(headFrom ? headFrom : p, stop)) return false;
      headFrom = nullptr;
      out->push_back({HttpEventType::kHead, nullptr, m.nDone - 1});
      // A request without a body completes in another step: run it even with no byte left.
      if (stop == end) {
        llhttp_errno_t rc2 = llhttp_execute(&m.p, end, 0);
        if (rc2 == HPE_PAUSED) llhttp_resume(&m.p);
        // An Upgrade or CONNECT that ends the buffer: complete, and the connection stays HTTP (as above).
        else if (rc2 == HPE_PAUSED_UPGRADE) llhttp_resume_after_upgrade(&m.p);
        else if (rc2 != HPE_OK) return fail(rc2);
        m.pause = Impl::kNoPause;
      }
    } else if (headFrom) {
      if (!ScanHead(headFrom, end)) return false;  // the head goes on in the next buffer
    }
    p = stop;
    if (m.pause == Impl::kAtHeadEnd) m.pause = Impl::kNoPause;
  }
  return true;
}

}  // namespace gatio
