// Load generator of bench/net.mjs: `conns` TCP connections to an echo
// server, each keeping `depth` messages of `size` bytes in flight; every
// echoed byte is checked against what was sent (a pattern per connection
// and message). One thread, epoll, pinned by the caller (taskset).
//
//   gcc -O2 -o load bench/net/load.c
//   taskset -c 1 ./load PORT CONNS SIZE DEPTH WARMUP_S SECONDS
//
// Prints one JSON line: messages, seconds, msgsPerSec, p50Us, p99Us,
// errors (bytes that differed), clientCpuMs.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct c {
  int fd;
  uint64_t sendSeq, recvSeq;  // messages sent / fully echoed
  size_t recvOff;             // bytes of message recvSeq received
  size_t pendOff, pendLen;    // unsent bytes of the write buffer
  char *out;
  uint64_t *sentAt;           // ns, ring of depth
};

static int SIZE, DEPTH;
static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}
static inline uint8_t pat(int conn, uint64_t seq, size_t i) { return (uint8_t)(conn * 31 + seq * 7 + i); }

static uint32_t *lat;  // microseconds * 10
static size_t nlat, caplat;
static int measuring;
static uint64_t errors, messages;

static void queue_msg(struct c *c, int idx) {
  size_t at = c->pendOff + c->pendLen;
  if (at + SIZE > (size_t)SIZE * DEPTH * 2) {  // compact
    memmove(c->out, c->out + c->pendOff, c->pendLen);
    c->pendOff = 0;
    at = c->pendLen;
  }
  for (int i = 0; i < SIZE; i++) c->out[at + i] = pat(idx, c->sendSeq, i);
  c->pendLen += SIZE;
  c->sentAt[c->sendSeq % DEPTH] = now_ns();
  c->sendSeq++;
}

static void flush(struct c *c) {
  while (c->pendLen > 0) {
    ssize_t n = write(c->fd, c->out + c->pendOff, c->pendLen);
    if (n < 0) {
      if (errno == EAGAIN) return;
      perror("write");
      exit(1);
    }
    c->pendOff += n;
    c->pendLen -= n;
  }
  c->pendOff = 0;
}

static int cmp(const void *a, const void *b) { return (int)(*(uint32_t *)a > *(uint32_t *)b) - (int)(*(uint32_t *)a < *(uint32_t *)b); }

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: load PORT CONNS SIZE DEPTH WARMUP_S SECONDS\n");
    return 2;
  }
  int port = atoi(argv[1]), N = atoi(argv[2]);
  SIZE = atoi(argv[3]);
  DEPTH = atoi(argv[4]);
  double warm = atof(argv[5]), secs = atof(argv[6]);
  struct c *cs = calloc(N, sizeof *cs);
  int ep = epoll_create1(0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (int i = 0; i < N; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
      perror("connect");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int fl = 1;
    ioctl(fd, FIONBIO, &fl);
    cs[i].fd = fd;
    cs[i].out = malloc((size_t)SIZE * DEPTH * 2);
    cs[i].sentAt = calloc(DEPTH, sizeof(uint64_t));
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  for (int i = 0; i < N; i++) {
    for (int k = 0; k < DEPTH; k++) queue_msg(&cs[i], i);
    flush(&cs[i]);
  }
  caplat = 1 << 20;
  lat = malloc(caplat * sizeof *lat);
  char *buf = malloc(1 << 20);
  struct epoll_event evs[256];
  uint64_t t0 = now_ns(), tStart = t0 + (uint64_t)(warm * 1e9), tEnd = tStart + (uint64_t)(secs * 1e9);
  struct rusage r0, r1;
  int started = 0;
  for (;;) {
    uint64_t t = now_ns();
    if (!started && t >= tStart) {
      started = measuring = 1;
      getrusage(RUSAGE_SELF, &r0);
    }
    if (t >= tEnd) break;
    int n = epoll_wait(ep, evs, 256, 100);
    for (int e = 0; e < n; e++) {
      int i = evs[e].data.u32;
      struct c *c = &cs[i];
      ssize_t got = read(c->fd, buf, 1 << 20);
      if (got <= 0) {
        if (got < 0 && errno == EAGAIN) continue;
        fprintf(stderr, "connection %d closed by the server\n", i);
        return 1;
      }
      uint64_t tn = now_ns();
      for (ssize_t j = 0; j < got; j++) {
        if ((uint8_t)buf[j] != pat(i, c->recvSeq, c->recvOff)) errors++;
        if (++c->recvOff == (size_t)SIZE) {
          if (measuring) {
            messages++;
            if (nlat == caplat) lat = realloc(lat, (caplat *= 2) * sizeof *lat);
            lat[nlat++] = (uint32_t)((tn - c->sentAt[c->recvSeq % DEPTH]) / 100);
          }
          c->recvSeq++;
          c->recvOff = 0;
          queue_msg(c, i);
        }
      }
      flush(c);
    }
  }
  getrusage(RUSAGE_SELF, &r1);
  qsort(lat, nlat, sizeof *lat, cmp);
  double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e3 +
               (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e3;
  printf("{\"messages\":%llu,\"seconds\":%.3f,\"msgsPerSec\":%.0f,\"p50Us\":%.1f,\"p99Us\":%.1f,\"errors\":%llu,\"clientCpuMs\":%.1f}\n",
         (unsigned long long)messages, secs, messages / secs, nlat ? lat[nlat / 2] / 10.0 : 0, nlat ? lat[(size_t)(nlat * 0.99)] / 10.0 : 0,
         (unsigned long long)errors, cpu);
  return errors ? 3 : 0;
}
