// Wakeups: eventfds, and parking a thread on one under its own libuv loop.
//
// A parked driver is a thread sleeping in libuv's epoll_wait with a
// uv_poll_t on its eventfd: it spins on nothing (test/driver-idle.test.mjs
// asserts an idle driver uses under 5% of a CPU), while Node's timers,
// promises and I/O on that thread keep working. See docs/drivers.md
// ("Wakeups and parking").
//
// Ownership of a watch (parkWatch):
// - Poll (heap) owns the uv_poll_t, the reference to the JS callback, the
//   async context and the async cleanup hook. It is freed in the uv close
//   callback and never before: libuv may touch the handle until then.
// - Watch (the JS object, an ObjectWrap) only points at its Poll. A watch
//   keeps running when its JS object is collected (as a timer does); the
//   Poll and the Watch clear each other's pointer when either goes first.
// - Teardown: an *async* env cleanup hook (napi_add_async_cleanup_hook)
//   closes a watch that is still open when its thread's environment goes
//   away (worker exit). Async, because uv_close completes later: Node keeps
//   running the loop until the hook reports done, which we do from the
//   close callback; a plain cleanup hook could leave a closing handle
//   behind and make the worker's uv_loop_close fail.
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

#include "addon.h"

namespace gatio {
namespace {

int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  return static_cast<int>(WholeNumber(info[i], fn, "fd", 0, INT32_MAX));
}

// Reads (and so resets) an eventfd's counter. 0 when it was already zero.
// -errno on other errors.
int64_t Drain(int fd) {
  uint64_t v = 0;
  for (;;) {
    ssize_t n = read(fd, &v, sizeof v);
    if (n == sizeof v) return static_cast<int64_t>(v);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 0;
    return n < 0 ? -errno : -EINVAL;  // a short read: not an eventfd
  }
}

Napi::Value EventfdCreate(const Napi::CallbackInfo& info) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), "eventfdCreate", errno);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value EventfdWrite(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "eventfdWrite");
  uint64_t one = 1;
  for (;;) {
    if (write(fd, &one, sizeof one) == sizeof one) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) break;  // the counter is at its maximum: already signalled
    ThrowErrno(info.Env(), "eventfdWrite(fd " + std::to_string(fd) + ")", errno);
  }
  return info.Env().Undefined();
}

Napi::Value EventfdRead(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "eventfdRead");
  int64_t n = Drain(fd);
  if (n < 0) ThrowErrno(info.Env(), "eventfdRead(fd " + std::to_string(fd) + ")", static_cast<int>(-n));
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

Napi::Value EventfdClose(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "eventfdClose");
  if (close(fd) != 0 && errno != EINTR) ThrowErrno(info.Env(), "eventfdClose(fd " + std::to_string(fd) + ")", errno);
  return info.Env().Undefined();
}

// ---- parkWatch --------------------------------------------------------------

class Watch;

struct Poll {
  uv_poll_t handle;  // handle.data == this
  napi_env env = nullptr;
  int fd = -1;
  napi_ref callback = nullptr;
  napi_async_context context = nullptr;
  napi_async_cleanup_hook_handle hook = nullptr;
  Watch* owner = nullptr;  // the JS object, while it lives
  bool closing = false;
};

void StartClose(Poll* p);

class Watch : public Napi::ObjectWrap<Watch> {
 public:
  static Napi::Function Class(Napi::Env env) {
    return DefineClass(env, "ParkWatchHandle",
                       {InstanceMethod<&Watch::Close>("close"), InstanceMethod<&Watch::Ref>("ref"),
                        InstanceMethod<&Watch::Unref>("unref"), InstanceMethod<&Watch::HasRef>("hasRef"),
                        InstanceAccessor<&Watch::Closed>("closed")});
  }
  explicit Watch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Watch>(info) {}
  ~Watch() override {
    if (poll_) poll_->owner = nullptr;
  }
  Poll* poll_ = nullptr;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (poll_) StartClose(poll_);  // clears poll_
    return info.Env().Undefined();
  }
  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(&poll_->handle));
    return info.This();
  }
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(&poll_->handle));
    return info.This();
  }
  Napi::Value HasRef(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), poll_ && uv_has_ref(reinterpret_cast<uv_handle_t*>(&poll_->handle)));
  }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), poll_ == nullptr); }
};

void OnClosed(uv_handle_t* h) {
  Poll* p = static_cast<Poll*>(h->data);
  // Last touch of the env: tells Node (if it is tearing down) that we are done.
  if (p->hook) napi_remove_async_cleanup_hook(p->hook);
  delete p;
}

// Stops callbacks now, releases the JS references now, frees later (OnClosed).
// Called from JS (close()) or from the env teardown hook; both on the loop's thread.
void StartClose(Poll* p) {
  if (p->closing) return;
  p->closing = true;
  uv_poll_stop(&p->handle);
  if (p->owner) {
    p->owner->poll_ = nullptr;
    p->owner = nullptr;
  }
  if (p->callback) napi_delete_reference(p->env, p->callback);
  p->callback = nullptr;
  if (p->context) napi_async_destroy(p->env, p->context);
  p->context = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), OnClosed);
}

void OnEnvTeardown(napi_async_cleanup_hook_handle, void* arg) { StartClose(static_cast<Poll*>(arg)); }

// Calls the JS callback like any libuv callback would: own handle scope,
// MakeCallback (async context, then the nextTick and microtask queues are
// drained), and an exception goes to 'uncaughtException' (or the worker's
// 'error'), not into libuv.
void CallJs(Poll* p, napi_value arg) {
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, result;
  napi_get_reference_value(env, p->callback, &cb);
  napi_get_global(env, &recv);  // MakeCallback needs an object receiver; a timer's `this` is not ours to fake
  size_t argc = arg ? 1 : 0;
  napi_make_callback(env, p->context, recv, cb, argc, arg ? &arg : nullptr, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
  // p may be closing now (the callback called close()); it is freed only in OnClosed, later.
}

void OnPoll(uv_poll_t* h, int status, int events) {
  Poll* p = static_cast<Poll*>(h->data);
  if (p->closing) return;
  if (status < 0) {
    // The fd went bad (closed under us?): stop and tell the callback once.
    uv_poll_stop(h);
    napi_handle_scope scope;
    if (napi_open_handle_scope(p->env, &scope) != napi_ok) return;
    std::string msg = "parkWatch(fd " + std::to_string(p->fd) + "): polling failed: " + uv_strerror(status);
    napi_value text, err;
    napi_create_string_utf8(p->env, msg.c_str(), msg.size(), &text);
    napi_create_error(p->env, nullptr, text, &err);
    CallJs(p, err);
    napi_close_handle_scope(p->env, scope);
    return;
  }
  int64_t n = Drain(p->fd);
  if (n == 0) return;  // someone else drained it first: nothing to wake for
  CallJs(p, nullptr);
}

// parkWatch(fd, callback) -> handle { close(), ref(), unref(), hasRef(), closed }
Napi::Value ParkWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "parkWatch");
  if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "parkWatch: callback must be a function");
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) throw Napi::Error::New(env, "parkWatch: this thread has no libuv loop");

  auto* p = new Poll;
  p->env = env;
  p->fd = fd;
  p->handle.data = p;
  int rc = uv_poll_init(loop, &p->handle, fd);
  if (rc < 0) {
    delete p;  // uv_poll_init failed before registering the handle: nothing to close
    std::string hint = rc == UV_EEXIST ? " (this thread already watches that fd)" : "";
    throw Napi::Error::New(env, "parkWatch(fd " + std::to_string(fd) + "): " + uv_strerror(rc) + hint);
  }
  rc = uv_poll_start(&p->handle, UV_READABLE, OnPoll);
  if (rc < 0) {
    p->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), OnClosed);  // frees p
    throw Napi::Error::New(env, "parkWatch(fd " + std::to_string(fd) + "): uv_poll_start: " + uv_strerror(rc));
  }
  napi_create_reference(env, info[1], 1, &p->callback);
  Napi::Object resource = Napi::Object::New(env);
  napi_async_init(env, resource, Napi::String::New(env, "gatio.park"), &p->context);
  napi_add_async_cleanup_hook(env, OnEnvTeardown, p, &p->hook);

  // The Watch class of this env (see InitWake); not instance data, which
  // is one slot for the whole addon.
  Napi::Object obj = static_cast<Napi::FunctionReference*>(info.Data())->New({});
  Watch* w = Watch::Unwrap(obj);
  w->poll_ = p;
  p->owner = w;
  return obj;
}

}  // namespace

void InitWake(Napi::Env env, Napi::Object exports) {
  exports.Set("eventfdCreate", Napi::Function::New(env, EventfdCreate, "eventfdCreate"));
  exports.Set("eventfdWrite", Napi::Function::New(env, EventfdWrite, "eventfdWrite"));
  exports.Set("eventfdRead", Napi::Function::New(env, EventfdRead, "eventfdRead"));
  exports.Set("eventfdClose", Napi::Function::New(env, EventfdClose, "eventfdClose"));
  auto* watchClass = new Napi::FunctionReference(Napi::Persistent(Watch::Class(env)));
  napi_add_env_cleanup_hook(env, [](void* ref) { delete static_cast<Napi::FunctionReference*>(ref); }, watchClass);
  exports.Set("parkWatch", Napi::Function::New(env, ParkWatch, "parkWatch", watchClass));
}

}  // namespace gatio
