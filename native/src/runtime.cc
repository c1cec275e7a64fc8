// Process-wide runtime settings: threads, allocator tuning, RNG, devices.
#include "common.h"
#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/CPUGeneratorImpl.h>
#include <malloc.h>
#include <cstdlib>
#include <mutex>
#include <torch/version.h>

namespace slimnet {

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 1) {
    throw Napi::RangeError::New(env, "setNumThreads: expected a positive integer");
  }
  at::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

static Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

static Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "manualSeed: expected a number");
  at::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return env.Undefined();
}

// The CPU generator's state as a uint8 tensor, to checkpoint and resume runs.
static Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "getRngState", [&] {
    auto gen = at::globalContext().defaultGenerator(c10::DeviceType::CPU);
    std::lock_guard<std::mutex> lock(gen.mutex());
    return WrapTensor(env, gen.get_state());
  });
}

static Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& state = UnwrapTensor(env, info[0], "setRngState");
  Guard(env, "setRngState (" + DescribeTensor(state) + ")", [&] {
    auto gen = at::globalContext().defaultGenerator(c10::DeviceType::CPU);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
    return 0;
  });
  return env.Undefined();
}

static Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::hasCUDA() ? static_cast<double>(at::detail::getCUDAHooks().getNumGPUs()) : 0.0);
}

static Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("torchVersion", Napi::String::New(env, std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH)));
  o.Set("parallel", Napi::String::New(env, at::get_parallel_info()));
  o.Set("cuda", Napi::Boolean::New(env, at::hasCUDA()));
  return o;
}

// Called once per process. glibc's mmap threshold is dynamic: it starts at
// 128 KiB and rises each time a mapped block is freed, so early in a run big
// tensors are mapped (page faults on every allocation) and later they move to
// the heap, where freed blocks of changing sizes fragment it. Fixing the
// threshold at its 64-bit maximum (32 MiB) from the start gives the steady
// state at once: activations and gradients up to 32 MiB reuse heap memory
// (PyTorch reaches the same state after warm-up; a 1 MiB threshold made
// training 2x slower through page faults), larger tensors are mapped and
// returned to the OS when freed, and the heap top is trimmed past 64 MiB.
// SLIMNET_MMAP_THRESHOLD (bytes) overrides the threshold, for measurements.
static void ProcessInit() {
  long threshold = 32L << 20;
  if (const char* env = std::getenv("SLIMNET_MMAP_THRESHOLD")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && v > 0) threshold = v;
  }
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(threshold));
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(2 * threshold));
}

void InitRuntime(Napi::Env env, Napi::Object exports) {
  static std::once_flag once;
  std::call_once(once, ProcessInit);
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed, "manualSeed"));
  exports.Set("getRngState", Napi::Function::New(env, GetRngState, "getRngState"));
  exports.Set("setRngState", Napi::Function::New(env, SetRngState, "setRngState"));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount, "cudaDeviceCount"));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo, "buildInfo"));
}

}  // namespace slimnet
