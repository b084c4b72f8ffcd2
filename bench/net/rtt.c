// The lone client of bench/latency.mjs: one connection, one request at a
// time, a pause between them, and the time of each round trip. What most
// servers see most of the time, and what a saturating load generator hides.
//
//   gcc -O2 -o rtt bench/net/rtt.c
//   taskset -c 1 ./rtt PORT tcp|http TRIPS PAUSE_US [SIZE]
//
// tcp: sends SIZE bytes (default 64) and waits until as many came back.
// http: sends "GET / HTTP/1.1" on a keep-alive connection and reads one
// response (its head, then Content-Length bytes of body).
// The pause is a nanosleep between a reply and the next request. Ten
// untimed trips come first. Prints one JSON line: the percentiles of the
// round trips in microseconds and the client's CPU time.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long nowNs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  long long x = *(const long long*)a, y = *(const long long*)b;
  return x < y ? -1 : x > y;
}

static void die(const char* what) {
  fprintf(stderr, "rtt: %s: %s\n", what, strerror(errno));
  exit(1);
}

static char buf[1 << 16];

// Reads one HTTP response off fd; returns 0, or -1 if the connection ended or the response is malformed.
static int readResponse(int fd) {
  size_t have = 0;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof buf - have - 1);
    if (n <= 0) return -1;
    have += n;
    buf[have] = 0;
    char* end = strstr(buf, "\r\n\r\n");
    if (!end) continue;
    char* cl = strcasestr(buf, "\r\ncontent-length:");
    if (!cl || cl > end) return -1;
    size_t want = (end + 4 - buf) + strtoul(cl + 17, NULL, 10);
    while (have < want) {
      n = read(fd, buf + have, sizeof buf - have);
      if (n <= 0) return -1;
      have += n;
    }
    return have == want ? 0 : -1;  // one request in flight: nothing may follow the response
  }
}

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: rtt PORT tcp|http TRIPS PAUSE_US [SIZE]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  int http = strcmp(argv[2], "http") == 0;
  int trips = atoi(argv[3]);
  long pauseUs = atol(argv[4]);
  size_t size = argc > 5 ? strtoul(argv[5], NULL, 10) : 64;
  if (trips < 1 || size < 1 || size > sizeof buf) {
    fprintf(stderr, "rtt: TRIPS must be >= 1 and SIZE in 1..%zu\n", sizeof buf);
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(fd, (struct sockaddr*)&a, sizeof a) < 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  char* msg = malloc(size);
  memset(msg, 'x', size);
  long long* lat = malloc(sizeof(long long) * trips);
  struct timespec pause = {pauseUs / 1000000, (pauseUs % 1000000) * 1000};
  struct rusage r0, r1;
  for (int i = -10; i < trips; i++) {
    if (i == 0) getrusage(RUSAGE_SELF, &r0);
    if (pauseUs > 0) nanosleep(&pause, NULL);
    long long t = nowNs();
    if (http) {
      if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) die("write");
      if (readResponse(fd) < 0) {
        fprintf(stderr, "rtt: trip %d: the connection ended or the response was malformed\n", i);
        return 1;
      }
    } else {
      if (write(fd, msg, size) != (ssize_t)size) die("write");
      size_t got = 0;
      while (got < size) {
        ssize_t n = read(fd, buf, size - got);
        if (n <= 0) {
          fprintf(stderr, "rtt: trip %d: the connection ended after %zu of %zu bytes\n", i, got, size);
          return 1;
        }
        got += n;
      }
    }
    if (i >= 0) lat[i] = nowNs() - t;
  }
  getrusage(RUSAGE_SELF, &r1);
  qsort(lat, trips, sizeof *lat, cmp);
  double sum = 0;
  for (int i = 0; i < trips; i++) sum += lat[i];
#define Q(q) (lat[(int)((q) * trips) < trips ? (int)((q) * trips) : trips - 1] / 1000.0)
  double cpuMs = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e3 +
                 (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e3;
  printf("{\"trips\":%d,\"meanUs\":%.1f,\"p50Us\":%.1f,\"p99Us\":%.1f,\"p999Us\":%.1f,\"maxUs\":%.1f,\"clientCpuMs\":%.1f}\n", trips, sum / trips / 1000.0, Q(0.5), Q(0.99), Q(0.999),
         lat[trips - 1] / 1000.0, cpuMs);
  return 0;
}
