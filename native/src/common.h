// Shared pieces of the slimnet addon: the tensor handle, errors and dtype names.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>
#include <string>

namespace slimnet {

// A JS tensor handle is a type-tagged External owning one reference to an
// at::Tensor. dispose() drops that reference early; the finalizer drops it if
// dispose never ran. Storage shared with other tensors (views, autograd
// saved tensors) stays alive through libtorch's own refcount.
struct TensorBox {
  at::Tensor tensor;
  int64_t reportedBytes = 0;
};

// `report`: tell V8 about the storage's bytes (false for second handles on a
// tensor another handle already reported, e.g. share() and .grad reads).
Napi::Value WrapTensor(Napi::Env env, at::Tensor t, bool report = true);
// Throws a JS TypeError naming `what` when `v` is not a live tensor handle.
at::Tensor& UnwrapTensor(Napi::Env env, const Napi::Value& v, const std::string& what);
TensorBox* UnwrapBox(Napi::Env env, const Napi::Value& v, const std::string& what);
void ReleaseBox(Napi::BasicEnv env, TensorBox* box);

at::ScalarType ParseDtype(Napi::Env env, const Napi::Value& v, const std::string& what);
const char* DtypeName(at::ScalarType t);
c10::Device ParseDevice(Napi::Env env, const Napi::Value& v, const std::string& what);
std::string DescribeTensor(const at::Tensor& t);
std::vector<int64_t> ParseIntList(Napi::Env env, const Napi::Value& v, const std::string& what);

// Runs `body`, turning C++ exceptions into JS errors prefixed by `context`.
template <typename F>
auto Guard(Napi::Env env, const std::string& context, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, context + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, context + ": " + e.what());
  }
}

void InitTensor(Napi::Env env, Napi::Object exports);
void InitOps(Napi::Env env, Napi::Object exports);
void InitAutograd(Napi::Env env, Napi::Object exports);
void InitRuntime(Napi::Env env, Napi::Object exports);

}  // namespace slimnet
