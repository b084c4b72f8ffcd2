// The limit for gatio's TCP echo (bench/net.mjs): a single-threaded echo
// server in C on one io_uring, doing what a gatio hybrid driver does
// natively — multishot accept, a multishot recv per connection into a
// provided-buffer ring, one send in flight per connection with what
// arrives meanwhile queued behind it — and nothing else (no JavaScript, no
// events, no copies but the one into the send queue).
//
//   gcc -O2 -o echo-uring bench/net/echo-uring.c -luring
//   taskset -c 0 ./echo-uring PORT
//
// Prints "ready PORT" once listening; runs until killed.
#define _GNU_SOURCE
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { ACCEPT = 1, RECV = 2, SEND = 3 };
#define UD(kind, fd) (((unsigned long long)(kind) << 32) | (unsigned)(fd))
#define BUFS 256
#define BUFSZ 16384
#define MAXFD 65536

struct conn {
  char *sending, *queued;
  size_t slen, soff, qlen, qcap;
  int inflight, closing;
};
static struct conn conns[MAXFD];
static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;

static struct io_uring_sqe *sqe(void) {
  struct io_uring_sqe *s = io_uring_get_sqe(&ring);
  if (!s) {
    io_uring_submit(&ring);
    s = io_uring_get_sqe(&ring);
  }
  return s;
}

static void arm_recv(int fd) {
  struct io_uring_sqe *s = sqe();
  io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = 0;
  io_uring_sqe_set_data64(s, UD(RECV, fd));
}

static void send_next(int fd) {
  struct conn *c = &conns[fd];
  if (c->inflight) return;
  if (c->soff >= c->slen) {  // swap in what was queued
    char *t = c->sending;
    c->sending = c->queued;
    c->slen = c->qlen;
    c->soff = 0;
    c->queued = t;
    c->qlen = 0;
    size_t cap = c->qcap;
    c->qcap = c->slen > cap ? c->slen : cap;
  }
  if (c->slen == 0) return;
  struct io_uring_sqe *s = sqe();
  io_uring_prep_send(s, fd, c->sending + c->soff, c->slen - c->soff, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, UD(SEND, fd));
  c->inflight = 1;
}

static void queue_bytes(int fd, const char *p, size_t n) {
  struct conn *c = &conns[fd];
  if (!c->queued || c->qlen + n > c->qcap) {
    size_t cap = (c->qlen + n) * 2;
    if (cap < 4096) cap = 4096;
    c->queued = realloc(c->queued, cap);
    c->qcap = cap;
  }
  memcpy(c->queued + c->qlen, p, n);
  c->qlen += n;
}

static void close_conn(int fd) {
  struct conn *c = &conns[fd];
  if (c->inflight) {
    c->closing = 1;  // its send's completion closes it
    return;
  }
  free(c->sending);
  free(c->queued);
  memset(c, 0, sizeof *c);
  close(fd);
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 9000;
  struct io_uring_params p = {0};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  if (io_uring_queue_init_params(4096, &ring, &p) < 0) {
    perror("io_uring_queue_init");
    return 1;
  }
  if (posix_memalign((void **)&br, 4096, BUFS * sizeof(struct io_uring_buf)) || posix_memalign((void **)&bufs, 4096, BUFS * BUFSZ)) return 1;
  io_uring_buf_ring_init(br);
  struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = BUFS, .bgid = 0};
  if (io_uring_register_buf_ring(&ring, &reg, 0) < 0) {
    fprintf(stderr, "register_buf_ring failed\n");
    return 1;
  }
  for (int i = 0; i < BUFS; i++) io_uring_buf_ring_add(br, bufs + i * BUFSZ, BUFSZ, i, io_uring_buf_ring_mask(BUFS), i);
  io_uring_buf_ring_advance(br, BUFS);

  int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1024) < 0) {
    perror("bind/listen");
    return 1;
  }
  struct io_uring_sqe *s = sqe();
  io_uring_prep_multishot_accept(s, lfd, NULL, NULL, 0);
  io_uring_sqe_set_data64(s, UD(ACCEPT, lfd));
  printf("ready %d\n", port);
  fflush(stdout);

  for (;;) {
    io_uring_submit_and_wait(&ring, 1);
    struct io_uring_cqe *cqe;
    unsigned head, n = 0, returned = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      n++;
      int kind = cqe->user_data >> 32, fd = (int)(cqe->user_data & 0xffffffff), res = cqe->res;
      int more = cqe->flags & IORING_CQE_F_MORE;
      if (kind == ACCEPT) {
        if (res >= 0) {
          setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          arm_recv(res);
        }
        if (!more) {
          s = sqe();
          io_uring_prep_multishot_accept(s, lfd, NULL, NULL, 0);
          io_uring_sqe_set_data64(s, UD(ACCEPT, lfd));
        }
      } else if (kind == RECV) {
        if (cqe->flags & IORING_CQE_F_BUFFER) {
          int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
          if (res > 0) queue_bytes(fd, bufs + bid * BUFSZ, res);
          io_uring_buf_ring_add(br, bufs + bid * BUFSZ, BUFSZ, bid, io_uring_buf_ring_mask(BUFS), returned++);
        }
        if (res > 0) {
          send_next(fd);
          if (!more) arm_recv(fd);
        } else if (res == -ENOBUFS) {
          arm_recv(fd);  // buffers come back at the end of this batch
        } else if (!more) {
          close_conn(fd);
        }
      } else if (kind == SEND) {
        struct conn *c = &conns[fd];
        c->inflight = 0;
        if (res < 0 || c->closing) {
          close_conn(fd);
        } else {
          c->soff += res;
          send_next(fd);
        }
      }
    }
    if (returned) io_uring_buf_ring_advance(br, returned);
    io_uring_cq_advance(&ring, n);
  }
}
