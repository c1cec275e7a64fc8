// Entry point. NODE_API_MODULE registers through the context-aware path, so
// every worker_thread gets its own exports object and its own handles.
#include "common.h"

namespace slimnet {
void InitDistributed(Napi::Env env, Napi::Object exports);  // distributed.cc
}

static Napi::Object InitSlimnet(Napi::Env env, Napi::Object exports) {
  slimnet::InitRuntime(env, exports);
  slimnet::InitTensor(env, exports);
  slimnet::InitOps(env, exports);
  slimnet::InitAutograd(env, exports);
  slimnet::InitDistributed(env, exports);
  return exports;
}

NODE_API_MODULE(slimnet_native, InitSlimnet)
