// Process groups on torch.distributed (c10d): a TCPStore rendezvous and a
// Gloo process group on it, with allreduce, broadcast, allgather and barrier.
//
// Every collective is issued on the JS thread, in call order (all ranks must
// issue the same collectives in the same order; issuing from pool threads
// could reorder them), and waited for on the libuv pool, so a rank waiting
// for its peers does not freeze Node's event loop. Each wait is bounded by
// the group's timeout; a failure rejects the promise with libtorch's or
// Gloo's own message, which the TypeScript side (src/tensor/distributed.ts)
// turns into a DistributedError naming the operation, this rank and the peer.
//
// Without Gloo's headers (Debian: libgloo-dev) the addon is built without
// process groups; distBackends() then returns [] and distInit says why.
#include "common.h"
#include <chrono>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <memory>
#include <stdexcept>
#include <thread>

#ifdef SLIMNET_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace slimnet {

#ifdef SLIMNET_WITH_GLOO

using Ms = std::chrono::milliseconds;

static const napi_type_tag kGroupTag = {0x736c696d6e657431ULL, 0x67726f7570ULL};

struct Group {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int rank = 0;
  int size = 0;
  Ms timeout{0};
};

// The JS handle owns one reference; each collective in flight holds another,
// so destroying the handle while a wait runs leaves the group alive until
// that wait ends (the group's destructor joins Gloo's threads).
struct GroupBox {
  std::shared_ptr<Group> group;
};

static std::string What(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

static std::shared_ptr<Group> UnwrapGroup(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsExternal() || !v.As<Napi::External<GroupBox>>().CheckTypeTag(&kGroupTag)) {
    throw Napi::TypeError::New(env, what + ": expected a process group");
  }
  auto* box = v.As<Napi::External<GroupBox>>().Data();
  if (!box->group) throw Napi::Error::New(env, what + ": the process group was destroyed");
  return box->group;
}

struct InitSpec {
  std::string host;
  uint16_t port = 0;
  int worldSize = 0;
  int rank = 0;
  Ms timeout{0};
  Ms initTimeout{0};
  std::string deviceHost;       // bind Gloo to this host's address
  std::string deviceInterface;  // or to this network interface
};

static int32_t IntField(Napi::Env env, const Napi::Object& o, const char* key, int32_t lo, int32_t hi) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("distInit: ") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<int64_t>(d) || d < lo || d > hi) {
    throw Napi::RangeError::New(env, std::string("distInit: ") + key + " must be an integer in [" + std::to_string(lo) + ", " +
                                         std::to_string(hi) + "], got " + v.ToString().Utf8Value());
  }
  return static_cast<int32_t>(d);
}

static std::string StrField(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

// Rendezvous and group construction block until every rank has joined (or
// the timeout passes), so they run on the pool too.
class InitWorker : public Napi::AsyncWorker {
 public:
  InitWorker(Napi::Env env, InitSpec spec)
      : Napi::AsyncWorker(env), spec_(std::move(spec)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    // One deadline for connecting to the store and for everyone joining.
    auto deadline = std::chrono::steady_clock::now() + spec_.initTimeout;
    try {
      auto g = std::make_shared<Group>();
      g->rank = spec_.rank;
      g->size = spec_.worldSize;
      g->timeout = spec_.timeout;
      c10d::TCPStoreOptions so;
      so.port = spec_.port;
      so.isServer = spec_.rank == 0;
      so.numWorkers = static_cast<std::size_t>(spec_.worldSize);
      // Rank 0 does not wait for the workers in the store's constructor (in
      // 1.13 that wait takes about twice its timeout): JoinAll waits instead.
      so.waitWorkers = false;
      g->store = Connect(so, deadline);
      g->store->setTimeout(spec_.initTimeout);
      JoinAll(*g->store, deadline);
      auto opts = c10d::ProcessGroupGloo::Options::create(spec_.timeout);
      opts->devices.push_back(!spec_.deviceInterface.empty() ? c10d::ProcessGroupGloo::createDeviceForInterface(spec_.deviceInterface)
                              : !spec_.deviceHost.empty()    ? c10d::ProcessGroupGloo::createDeviceForHostname(spec_.deviceHost)
                                                             : c10d::ProcessGroupGloo::createDefaultDevice());
      g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, spec_.rank, spec_.worldSize, opts);
      group_ = std::move(g);
    } catch (...) {
      SetError(What(std::current_exception()));
    }
  }

  // The store's own connect timeout is counted in whole seconds and its
  // retries are a second apart, each logged: a worker started a moment
  // before rank 0 listens would fail at once under a 1.5 s timeout. Workers
  // first wait here until the port accepts a connection (every 100 ms, up to
  // the deadline, quietly), then connect the store once; rank 0 binds once
  // (a port in use fails at once).
  c10::intrusive_ptr<c10d::TCPStore> Connect(c10d::TCPStoreOptions so, std::chrono::steady_clock::time_point deadline) {
    if (!so.isServer) WaitListening(deadline);
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    so.timeout = Ms(std::max<int64_t>(1, (left.count() + 999) / 1000) * 1000);
    return c10::make_intrusive<c10d::TCPStore>(spec_.host, so);
  }

  void WaitListening(std::chrono::steady_clock::time_point deadline) {
    std::string why = "no attempt";
    for (;;) {
      why = TryConnect(deadline);
      if (why.empty()) return;
      if (std::chrono::steady_clock::now() + Ms(100) > deadline) break;
      std::this_thread::sleep_for(Ms(100));
    }
    throw std::runtime_error("could not reach the rendezvous at " + spec_.host + ":" + std::to_string(spec_.port) + " within " +
                             std::to_string(spec_.initTimeout.count()) + " ms (timed out; last attempt: " + why + ")");
  }

  // One non-blocking connect bounded by the deadline; "" when it connected.
  std::string TryConnect(std::chrono::steady_clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(spec_.host.c_str(), std::to_string(spec_.port).c_str(), &hints, &res);
    if (rc != 0) return std::string("cannot resolve ") + spec_.host + ": " + gai_strerror(rc);
    std::string why = "no address";
    for (addrinfo* a = res; a; a = a->ai_next) {
      int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        why = std::strerror(errno);
        continue;
      }
      int err = connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
      if (err == EINPROGRESS) {
        auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now()).count();
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left))) == 1) {
          socklen_t len = sizeof(err);
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        } else {
          err = ETIMEDOUT;
        }
      }
      close(fd);
      if (err == 0) {
        freeaddrinfo(res);
        return "";
      }
      why = std::strerror(err);
    }
    freeaddrinfo(res);
    return why;
  }

  // Every rank counts itself in on the store and waits, up to the init
  // timeout, for all of them: processes start at different times (loading
  // data first), and Gloo's own rendezvous below then runs with every rank
  // present, under the collectives' timeout. Names the ranks that never came.
  void JoinAll(c10d::Store& store, std::chrono::steady_clock::time_point deadline) {
    store.set("slimnet/joined/" + std::to_string(spec_.rank), std::vector<uint8_t>{1});
    store.add("slimnet/joined", 1);
    while (store.add("slimnet/joined", 0) < spec_.worldSize) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::string missing;
        int count = 0;
        for (int r = 0; r < spec_.worldSize; ++r) {
          if (store.check({"slimnet/joined/" + std::to_string(r)})) continue;
          missing += (count++ ? ", " : "") + std::to_string(r);
        }
        throw std::runtime_error((count == 1 ? "rank " : "ranks ") + missing + " did not join the rendezvous within " +
                                 std::to_string(spec_.initTimeout.count()) + " ms (timed out)");
      }
      std::this_thread::sleep_for(Ms(20));
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    auto ext = Napi::External<GroupBox>::New(env, new GroupBox{std::move(group_)}, [](Napi::BasicEnv, GroupBox* b) { delete b; });
    ext.TypeTag(&kGroupTag);
    deferred_.Resolve(ext);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  InitSpec spec_;
  std::shared_ptr<Group> group_;
  Napi::Promise::Deferred deferred_;
};

// distInit({host, port, worldSize, rank, timeoutMs, initTimeoutMs, deviceHost?, deviceInterface?}) -> Promise<group>
static Napi::Value DistInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "distInit: expected an options object");
  auto o = info[0].As<Napi::Object>();
  InitSpec s;
  s.host = StrField(o, "host");
  if (s.host.empty()) throw Napi::TypeError::New(env, "distInit: host must be a non-empty string");
  s.port = static_cast<uint16_t>(IntField(env, o, "port", 1, 65535));
  s.worldSize = IntField(env, o, "worldSize", 1, 1 << 20);
  s.rank = IntField(env, o, "rank", 0, s.worldSize - 1);
  s.timeout = Ms(IntField(env, o, "timeoutMs", 1, 0x7fffffff));
  s.initTimeout = Ms(IntField(env, o, "initTimeoutMs", 1, 0x7fffffff));
  s.deviceHost = StrField(o, "deviceHost");
  s.deviceInterface = StrField(o, "deviceInterface");
  auto* w = new InitWorker(env, std::move(s));
  auto p = w->Promise();
  w->Queue();
  return p;
}

// Waits for issued works on the pool, all against one deadline (the group's
// timeout from the wait's start), then optionally divides (average) or hands
// back the allgather outputs.
class WaitWorker : public Napi::AsyncWorker {
 public:
  WaitWorker(Napi::Env env, std::shared_ptr<Group> g, std::vector<c10::intrusive_ptr<c10d::Work>> works)
      : Napi::AsyncWorker(env), group_(std::move(g)), works_(std::move(works)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  std::vector<at::Tensor> divide;   // average: divided by the world size after the sum
  std::vector<at::Tensor> gathered; // allgather: the outputs to hand back

  void Execute() override {
    auto deadline = std::chrono::steady_clock::now() + group_->timeout;
    for (auto& w : works_) {
      try {
        auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
        w->wait(std::max(left, Ms(1)));
      } catch (...) {
        // The first failure is the informative one; later works on the same
        // group fail for the same reason (or time out against the deadline).
        if (!error_.empty()) continue;
        error_ = w->isCompleted() ? What(std::current_exception())
                                  : "no answer within " + std::to_string(group_->timeout.count()) +
                                        " ms (timed out): a rank stopped taking part without leaving";
      }
    }
    if (!error_.empty()) {
      SetError(error_);
      return;
    }
    try {
      for (auto& t : divide) t.div_(group_->size);
    } catch (...) {
      SetError(What(std::current_exception()));
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (gathered.empty()) {
      deferred_.Resolve(env.Undefined());
      return;
    }
    auto arr = Napi::Array::New(env, gathered.size());
    for (size_t i = 0; i < gathered.size(); ++i) arr.Set(static_cast<uint32_t>(i), WrapTensor(env, gathered[i]));
    deferred_.Resolve(arr);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::shared_ptr<Group> group_;
  std::vector<c10::intrusive_ptr<c10d::Work>> works_;
  std::string error_;
  Napi::Promise::Deferred deferred_;
};

// Gloo reads and writes the tensors' memory directly: dense, contiguous CPU
// tensors only (a view would be silently skipped or mis-read).
static at::Tensor& CheckTensor(Napi::Env env, const Napi::Value& v, const std::string& what) {
  at::Tensor& t = UnwrapTensor(env, v, what);
  if (t.device().type() != c10::DeviceType::CPU) throw Napi::TypeError::New(env, what + ": the gloo backend takes CPU tensors, got " + DescribeTensor(t));
  if (t.layout() != c10::kStrided || !t.is_contiguous()) {
    throw Napi::TypeError::New(env, what + ": expected a dense contiguous tensor, got " + DescribeTensor(t));
  }
  return t;
}

static Napi::Value Queue(Napi::Env env, WaitWorker* w) {
  auto p = w->Promise();
  w->Queue();
  return p;
}

template <typename F>
static c10::intrusive_ptr<c10d::Work> Issue(Napi::Env env, F&& f) {
  try {
    return f();
  } catch (...) {
    throw Napi::Error::New(env, What(std::current_exception()));
  }
}

// distAllReduce(group, tensors[], 'sum'|'avg') -> Promise<void>; in place.
// One allreduce per tensor (Gloo's multi-tensor allreduce wants equal sizes);
// Gloo 1.13 has no AVG, so average is a sum divided by the world size.
static Napi::Value DistAllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = UnwrapGroup(env, info[0], "distAllReduce");
  if (!info[1].IsArray()) throw Napi::TypeError::New(env, "distAllReduce: tensors must be an array");
  std::string op = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  if (op != "sum" && op != "avg") throw Napi::TypeError::New(env, "distAllReduce: op must be 'sum' or 'avg', got '" + op + "'");
  auto arr = info[1].As<Napi::Array>();
  std::vector<at::Tensor> tensors;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    at::Tensor& t = CheckTensor(env, arr.Get(i), "distAllReduce: tensor " + std::to_string(i));
    if (op == "avg" && !at::isFloatingType(t.scalar_type())) {
      throw Napi::TypeError::New(env, "distAllReduce: 'avg' needs floating tensors, tensor " + std::to_string(i) + " is " + DescribeTensor(t));
    }
    tensors.push_back(t);
  }
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    works.push_back(Issue(env, [&] { return g->pg->allreduce(one); }));
  }
  auto* w = new WaitWorker(env, g, std::move(works));
  if (op == "avg") w->divide = tensors;
  return Queue(env, w);
}

// distBroadcast(group, tensor, root) -> Promise<void>; in place.
static Napi::Value DistBroadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = UnwrapGroup(env, info[0], "distBroadcast");
  std::vector<at::Tensor> one{CheckTensor(env, info[1], "distBroadcast: tensor")};
  if (!info[2].IsNumber()) throw Napi::TypeError::New(env, "distBroadcast: root must be a number");
  int root = info[2].As<Napi::Number>().Int32Value();
  if (root < 0 || root >= g->size) {
    throw Napi::RangeError::New(env, "distBroadcast: root " + std::to_string(root) + " is not a rank of a group of " + std::to_string(g->size));
  }
  c10d::BroadcastOptions o;
  o.rootRank = root;
  std::vector<c10::intrusive_ptr<c10d::Work>> works{Issue(env, [&] { return g->pg->broadcast(one, o); })};
  return Queue(env, new WaitWorker(env, g, std::move(works)));
}

// distAllGather(group, tensor) -> Promise<tensor[]>: every rank's tensor, by rank.
static Napi::Value DistAllGather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = UnwrapGroup(env, info[0], "distAllGather");
  std::vector<at::Tensor> in{CheckTensor(env, info[1], "distAllGather: tensor")};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < g->size; ++r) out[0].push_back(at::empty_like(in[0]));
  std::vector<c10::intrusive_ptr<c10d::Work>> works{Issue(env, [&] { return g->pg->allgather(out, in); })};
  auto* w = new WaitWorker(env, g, std::move(works));
  w->gathered = out[0];
  return Queue(env, w);
}

// distBarrier(group) -> Promise<void>
static Napi::Value DistBarrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = UnwrapGroup(env, info[0], "distBarrier");
  std::vector<c10::intrusive_ptr<c10d::Work>> works{Issue(env, [&] { return g->pg->barrier(); })};
  return Queue(env, new WaitWorker(env, g, std::move(works)));
}

// distDestroy(group): drops the handle's reference (idempotent).
static Napi::Value DistDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal() || !info[0].As<Napi::External<GroupBox>>().CheckTypeTag(&kGroupTag)) {
    throw Napi::TypeError::New(env, "distDestroy: expected a process group");
  }
  info[0].As<Napi::External<GroupBox>>().Data()->group.reset();
  return env.Undefined();
}

static Napi::Value DistBackends(const Napi::CallbackInfo& info) {
  auto arr = Napi::Array::New(info.Env(), 1);
  arr.Set(0u, Napi::String::New(info.Env(), "gloo"));
  return arr;
}

void InitDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("distBackends", Napi::Function::New(env, DistBackends, "distBackends"));
  exports.Set("distInit", Napi::Function::New(env, DistInit, "distInit"));
  exports.Set("distAllReduce", Napi::Function::New(env, DistAllReduce, "distAllReduce"));
  exports.Set("distBroadcast", Napi::Function::New(env, DistBroadcast, "distBroadcast"));
  exports.Set("distAllGather", Napi::Function::New(env, DistAllGather, "distAllGather"));
  exports.Set("distBarrier", Napi::Function::New(env, DistBarrier, "distBarrier"));
  exports.Set("distDestroy", Napi::Function::New(env, DistDestroy, "distDestroy"));
}

#else  // !SLIMNET_WITH_GLOO

static Napi::Value Unavailable(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(),
                         "this addon was built without Gloo's headers, so without process groups "
                         "(Debian: apt-get install libgloo-dev, then npm run build:native -- --force)");
}

static Napi::Value DistBackends(const Napi::CallbackInfo& info) { return Napi::Array::New(info.Env(), 0); }

void InitDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("distBackends", Napi::Function::New(env, DistBackends, "distBackends"));
  for (const char* name : {"distInit", "distAllReduce", "distBroadcast", "distAllGather", "distBarrier", "distDestroy"}) {
    exports.Set(name, Napi::Function::New(env, Unavailable, name));
  }
}

#endif

}  // namespace slimnet
