// Autograd: backward (sync and on the thread pool), torch.autograd.grad,
// .grad access, retain_grad for non-leaf activations, and the grad mode.
#include "common.h"
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/variable.h>

namespace slimnet {

static std::vector<at::Tensor> TensorArray(Napi::Env env, const Napi::Value& v, const std::string& what, bool allowNull) {
  std::vector<at::Tensor> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) throw Napi::TypeError::New(env, what + ": expected an array of tensors");
  auto arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    if (allowNull && (e.IsNull() || e.IsUndefined())) out.emplace_back();
    else out.push_back(UnwrapTensor(env, e, what + "[" + std::to_string(i) + "]"));
  }
  return out;
}

static bool OptBool(const Napi::Value& v, bool dflt) { return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : dflt; }

// backward(outputs[], gradOutputs[]|null, retainGraph, createGraph)
static Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto outputs = TensorArray(env, info[0], "backward: outputs", false);
  auto grads = TensorArray(env, info[1], "backward: gradients", true);
  bool retain = OptBool(info[2], false), create = OptBool(info[3], false);
  Guard(env, "backward", [&] {
    torch::autograd::backward(outputs, grads, retain, create);
    return 0;
  });
  return env.Undefined();
}

class BackwardWorker : public Napi::AsyncWorker {
 public:
  BackwardWorker(Napi::Env env, std::vector<at::Tensor> outputs, std::vector<at::Tensor> grads, bool retain)
      : Napi::AsyncWorker(env), outputs_(std::move(outputs)), grads_(std::move(grads)), retain_(retain),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      torch::autograd::backward(outputs_, grads_, retain_, false);
    } catch (const c10::Error& e) {
      SetError(std::string("backward: ") + e.what_without_backtrace());
    } catch (const std::exception& e) {
      SetError(std::string("backward: ") + e.what());
    }
    outputs_.clear();
    grads_.clear();
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::vector<at::Tensor> outputs_, grads_;
  bool retain_;
  Napi::Promise::Deferred deferred_;
};

static Napi::Value BackwardAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* w = new BackwardWorker(env, TensorArray(env, info[0], "backwardAsync: outputs", false),
                               TensorArray(env, info[1], "backwardAsync: gradients", true), OptBool(info[2], false));
  auto p = w->Promise();
  w->Queue();
  return p;
}

// grad(outputs[], inputs[], gradOutputs[]|null, retainGraph, createGraph, allowUnused) -> (Tensor|null)[]
static Napi::Value Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto outputs = TensorArray(env, info[0], "grad: outputs", false);
  auto inputs = TensorArray(env, info[1], "grad: inputs", false);
  auto gradOuts = TensorArray(env, info[2], "grad: gradOutputs", true);
  bool create = OptBool(info[4], false);
  bool retain = OptBool(info[3], create), allowUnused = OptBool(info[5], false);
  auto result = Guard(env, "grad", [&] {
    return torch::autograd::grad(outputs, inputs, gradOuts, retain, create, allowUnused);
  });
  auto arr = Napi::Array::New(env, result.size());
  for (size_t i = 0; i < result.size(); ++i) {
    arr.Set(static_cast<uint32_t>(i), result[i].defined() ? WrapTensor(env, result[i]) : env.Null());
  }
  return arr;
}

static Napi::Value GetGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = UnwrapTensor(env, info[0], "grad");
  const at::Tensor& g = t.grad();
  return g.defined() ? WrapTensor(env, g, /*report=*/false) : env.Null();
}

static Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = UnwrapTensor(env, info[0], "setGrad");
  if (info[1].IsNull() || info[1].IsUndefined()) {
    t.mutable_grad() = at::Tensor();
    return env.Undefined();
  }
  at::Tensor& g = UnwrapTensor(env, info[1], "setGrad: gradient");
  // libtorch accepts any tensor here and only fails later, deep in backward.
  if (g.sizes() != t.sizes() || g.scalar_type() != t.scalar_type() || g.device() != t.device()) {
    throw Napi::Error::New(env, "setGrad: gradient " + DescribeTensor(g) + " does not match tensor " + DescribeTensor(t));
  }
  t.mutable_grad() = g;
  return env.Undefined();
}

static Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = UnwrapTensor(env, info[0], "setRequiresGrad");
  bool flag = OptBool(info[1], true);
  if (!flag && !t.is_leaf()) {
    throw Napi::Error::New(env, "setRequiresGrad: cannot turn off requiresGrad on a non-leaf tensor " + DescribeTensor(t) +
                                    " (it is computed from tensors that require grad); use detach() instead");
  }
  Guard(env, "setRequiresGrad (" + DescribeTensor(t) + ")", [&] {
    t.set_requires_grad(flag);
    return 0;
  });
  return env.Undefined();
}

static Napi::Value RetainGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = UnwrapTensor(env, info[0], "retainGrad");
  Guard(env, "retainGrad", [&] {
    t.retain_grad();
    return 0;
  });
  return env.Undefined();
}

static Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, UnwrapTensor(env, info[0], "isLeaf").is_leaf());
}

static Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(OptBool(info[0], true));
  return Napi::Boolean::New(env, prev);
}

static Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

void InitAutograd(Napi::Env env, Napi::Object exports) {
  exports.Set("backward", Napi::Function::New(env, Backward, "backward"));
  exports.Set("backwardAsync", Napi::Function::New(env, BackwardAsync, "backwardAsync"));
  exports.Set("grad", Napi::Function::New(env, Grad, "grad"));
  exports.Set("getGrad", Napi::Function::New(env, GetGrad, "getGrad"));
  exports.Set("setGrad", Napi::Function::New(env, SetGrad, "setGrad"));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad, "setRequiresGrad"));
  exports.Set("retainGrad", Napi::Function::New(env, RetainGrad, "retainGrad"));
  exports.Set("isLeaf", Napi::Function::New(env, IsLeaf, "isLeaf"));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled, "setGradEnabled"));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled, "isGradEnabled"));
}

}  // namespace slimnet
