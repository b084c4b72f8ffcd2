// A UDP burst against an echo server: COUNT datagrams of SIZE bytes sent
// as fast as a blocking socket takes them (a sender thread), the echoes
// counted by a receiver thread on the same socket, whose receive buffer is
// forced large (SO_RCVBUFFORCE, as root) so that the client loses nothing
// itself: what is missing was lost by the server (its socket's receive
// queue overflowed, or its sends failed). Each echo is checked byte for byte.
//
//   gcc -O2 -o udp-burst bench/net/udp-burst.c -lpthread
//   ./udp-burst PORT COUNT SIZE
//
// Prints one JSON line: sent, echoed, corrupt, lossPct, seconds.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int fd, count;
static size_t size;
static long echoed, corrupt;

static unsigned char pattern(long i, size_t j) { return (unsigned char)(i * 31 + j * 7); }

static void* receiver(void* arg) {
  (void)arg;
  unsigned char* b = malloc(65536);
  for (;;) {
    ssize_t n = recv(fd, b, 65536, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;  // a second of silence: the echoes are over
      if (errno == EINTR) continue;
      perror("recv");
      break;
    }
    if ((size_t)n != size || n < 4) {
      corrupt++;
      continue;
    }
    long i;
    memcpy(&i, b, sizeof i < (size_t)n ? sizeof i : (size_t)n);
    int ok = 1;
    for (size_t j = sizeof i; j < (size_t)n; j++) ok &= b[j] == pattern(i, j);
    if (ok) echoed++;
    else corrupt++;
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: udp-burst PORT COUNT SIZE\n");
    return 2;
  }
  int port = atoi(argv[1]);
  count = atoi(argv[2]);
  size = strtoul(argv[3], NULL, 10);
  if (size < sizeof(long) || size > 65507) {
    fprintf(stderr, "udp-burst: SIZE must be %zu..65507\n", sizeof(long));
    return 2;
  }
  fd = socket(AF_INET, SOCK_DGRAM, 0);
  int big = 256 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  struct timeval tv = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(fd, (struct sockaddr*)&a, sizeof a) < 0) {
    perror("connect");
    return 1;
  }
  pthread_t t;
  pthread_create(&t, NULL, receiver, NULL);
  unsigned char* m = malloc(size);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < count; i++) {
    memcpy(m, &i, sizeof i);
    for (size_t j = sizeof i; j < size; j++) m[j] = pattern(i, j);
    while (send(fd, m, size, 0) < 0) {
      if (errno == ECONNREFUSED) continue;  // an ICMP from an earlier datagram: not this one's failure
      if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
        perror("send");
        return 1;
      }
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  pthread_join(t, NULL);
  printf("{\"sent\":%d,\"echoed\":%ld,\"corrupt\":%ld,\"lossPct\":%.2f,\"sendSeconds\":%.3f}\n", count, echoed, corrupt, 100.0 * (count - echoed) / count,
         (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  return 0;
}
