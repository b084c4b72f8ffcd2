// What waking a parked thread costs on this machine, without gatio: the
// floor under a cold call (docs/benchmarks.md, "Cold calls").
//
//   gcc -O2 -o /tmp/os-wake bench/os-wake.c -lpthread && /tmp/os-wake
//
// A waker pinned to CPU 1 wakes a waiter 200 times, each after 20 ms of
// idleness, through an eventfd the waiter sleeps on in epoll_wait (how a
// parked driver sleeps under libuv) or through a futex (how a worker pool's
// Atomics.wait sleeps); the waiter pinned to CPU 0 (a gatio driver) or not
// pinned (a pool's worker). Reported: the time from just before the wake
// call to the waiter's return, and how long the eventfd write itself takes.
// Run as root, each round measures the pinned waiters once more with CPU 0's
// idle states bounded to 0 µs (pm_qos_resume_latency_us "n/a", what
// runtime.wakeLatencyUs 0 sets): the core polls instead of halting.
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { N = 200 };
static int efd, ep, pin, futexMode;
static _Atomic long long sent;
static _Atomic int fut;
static long long lat[N], wr[N];

static long long now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}
static void pinTo(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}
static int cmp(const void* a, const void* b) {
  long long x = *(const long long*)a, y = *(const long long*)b;
  return x < y ? -1 : x > y;
}
static void* waiter(void* arg) {
  (void)arg;
  if (pin) pinTo(0);
  for (int i = 0; i < N; i++) {
    if (futexMode) {
      while (atomic_load(&fut) == 0) syscall(SYS_futex, &fut, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
      atomic_store(&fut, 0);
    } else {
      struct epoll_event e;
      epoll_wait(ep, &e, 1, -1);
      eventfd_t v;
      eventfd_read(efd, &v);
    }
    lat[i] = now() - atomic_load(&sent);
  }
  return 0;
}
static const char* QOS = "/sys/devices/system/cpu/cpu0/power/pm_qos_resume_latency_us";
static int bounded;
// Bounds CPU 0's wake latency to 0 µs (on) or removes the bound; false when it cannot.
static int bound(int on) {
  FILE* f = fopen(QOS, "w");
  if (!f) return 0;
  int ok = fputs(on ? "n/a" : "0", f) >= 0;
  return fclose(f) == 0 && ok;
}
static void run(int useFutex, int pinned) {
  futexMode = useFutex;
  pin = pinned;
  pthread_t t;
  pthread_create(&t, 0, waiter, 0);
  usleep(50000);
  for (int i = 0; i < N; i++) {
    usleep(20000);
    long long t0 = now();
    atomic_store(&sent, t0);
    if (useFutex) {
      atomic_store(&fut, 1);
      syscall(SYS_futex, &fut, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
    } else {
      eventfd_write(efd, 1);
    }
    wr[i] = now() - t0;
  }
  pthread_join(t, 0);
  qsort(lat, N, sizeof lat[0], cmp);
  qsort(wr, N, sizeof wr[0], cmp);
  printf("%-6s waiter %-17s wake-to-run p50 %4lld p90 %4lld p99 %5lld us; the wake call itself p50 %3lld p99 %3lld us\n", useFutex ? "futex" : "epoll",
         pinned ? (bounded ? "pinned, CPU polls" : "pinned") : "unpinned", lat[N / 2] / 1000, lat[N * 9 / 10] / 1000, lat[N * 99 / 100] / 1000, wr[N / 2] / 1000, wr[N * 99 / 100] / 1000);
}
int main(void) {
  pinTo(1);
  efd = eventfd(0, EFD_NONBLOCK);
  ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLIN};
  epoll_ctl(ep, EPOLL_CTL_ADD, efd, &e);
  int canBound = bound(0);  // the CPU's previous bound is assumed to be none
  if (!canBound) printf("(no runs with CPU 0 polling: cannot write %s)\n", QOS);
  for (int round = 0; round < 4; round++) {  // interleaved: the host's load drifts
    run(0, 1);
    run(0, 0);
    run(1, 1);
    run(1, 0);
    if (!canBound) continue;
    bounded = bound(1);
    run(0, 1);
    run(1, 1);
    bounded = 0;
    bound(0);
  }
  return 0;
}
