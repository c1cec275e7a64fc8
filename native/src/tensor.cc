// Tensor handles: creation from typed arrays, read-back, metadata, release.
#include "common.h"
#include <atomic>
#include <cstring>

namespace slimnet {

static const napi_type_tag kTensorTag = {0x736c696d6e657431ULL, 0x74656e736f72ULL};

static int64_t ReportedBytes(const at::Tensor& t) {
  // Views share their base's storage: only the tensor that owns a storage
  // reports it, so V8's external-memory pressure tracks real allocations.
  // Storage shared between tensor objects (views made by other means) is
  // not reported again.
  if (!t.defined() || t.is_view() || !t.has_storage() || t.device().type() != c10::DeviceType::CPU) return 0;
  if (t.storage().use_count() != 1) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}

// Handles holding a tensor right now, and the bytes they reported to V8.
// Atomic because worker threads load the same addon.
static std::atomic<int64_t> g_liveHandles{0};
static std::atomic<int64_t> g_liveBytes{0};

void ReleaseBox(Napi::BasicEnv env, TensorBox* box) {
  if (box->tensor.defined()) --g_liveHandles;
  g_liveBytes -= box->reportedBytes;
  if (box->reportedBytes) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -box->reportedBytes);
    box->reportedBytes = 0;
  }
  box->tensor = at::Tensor();
}

Napi::Value WrapTensor(Napi::Env env, at::Tensor t, bool report) {
  auto* box = new TensorBox{std::move(t), 0};
  box->reportedBytes = report ? ReportedBytes(box->tensor) : 0;
  if (box->reportedBytes) Napi::MemoryManagement::AdjustExternalMemory(env, box->reportedBytes);
  if (box->tensor.defined()) ++g_liveHandles;
  g_liveBytes += box->reportedBytes;
  // A basic finalizer: with GC-time finalizers (see CMakeLists.txt) it runs
  // during garbage collection, so even a loop that never yields to the event
  // loop gets its forgotten handles back.
  auto ext = Napi::External<TensorBox>::New(env, box, [](Napi::BasicEnv env, TensorBox* b) {
    ReleaseBox(env, b);
    delete b;
  });
  ext.TypeTag(&kTensorTag);
  return ext;
}

TensorBox* UnwrapBox(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsExternal() || !v.As<Napi::External<TensorBox>>().CheckTypeTag(&kTensorTag)) {
    throw Napi::TypeError::New(env, what + ": expected a tensor");
  }
  return v.As<Napi::External<TensorBox>>().Data();
}

at::Tensor& UnwrapTensor(Napi::Env env, const Napi::Value& v, const std::string& what) {
  TensorBox* box = UnwrapBox(env, v, what);
  if (!box->tensor.defined()) throw Napi::Error::New(env, what + ": tensor was disposed");
  return box->tensor;
}

struct DtypeEntry { const char* name; at::ScalarType type; };
static const DtypeEntry kDtypes[] = {
    {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf}, {"bfloat16", at::kBFloat16},
    {"int64", at::kLong},    {"int32", at::kInt},      {"int16", at::kShort},  {"int8", at::kChar},
    {"uint8", at::kByte},    {"bool", at::kBool},
};

at::ScalarType ParseDtype(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    for (const auto& d : kDtypes) if (s == d.name) return d.type;
    throw Napi::TypeError::New(env, what + ": unknown dtype '" + s + "' (expected float32, float64, int64, int32, uint8, bool, ...)");
  }
  throw Napi::TypeError::New(env, what + ": dtype must be a string");
}

const char* DtypeName(at::ScalarType t) {
  for (const auto& d : kDtypes) if (d.type == t) return d.name;
  return c10::toString(t);
}

c10::Device ParseDevice(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsString()) throw Napi::TypeError::New(env, what + ": device must be a string like 'cpu' or 'cuda:0'");
  std::string s = v.As<Napi::String>().Utf8Value();
  try {
    return c10::Device(s);
  } catch (const c10::Error&) {
    throw Napi::TypeError::New(env, what + ": unknown device '" + s + "'");
  }
}

std::vector<int64_t> ParseIntList(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, what + ": expected an array of integers");
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    if (!e.IsNumber()) throw Napi::TypeError::New(env, what + ": element " + std::to_string(i) + " is not a number");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d))) {
      throw Napi::TypeError::New(env, what + ": element " + std::to_string(i) + " is not an integer");
    }
    out[i] = static_cast<int64_t>(d);
  }
  return out;
}

std::string DescribeTensor(const at::Tensor& t) {
  if (!t.defined()) return "undefined tensor";
  std::string s = "Tensor[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  s += "] ";
  s += DtypeName(t.scalar_type());
  if (!t.is_cpu()) s += " " + t.device().str();
  return s;
}

// fromArray(data: TypedArray, shape: number[], dtype: string, device?: string)
static Napi::Value FromArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "fromArray: data must be a typed array");
  auto data = info[0].As<Napi::TypedArray>();
  auto shape = ParseIntList(env, info[1], "fromArray: shape");
  at::ScalarType dtype = ParseDtype(env, info[2], "fromArray");
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Napi::RangeError::New(env, "fromArray: negative dimension in shape");
    numel *= d;
  }
  size_t need = static_cast<size_t>(numel) * c10::elementSize(dtype);
  if (data.ByteLength() != need) {
    throw Napi::RangeError::New(env, "fromArray: shape [" + c10::Join(", ", shape) + "] of " + DtypeName(dtype) + " needs " +
                                         std::to_string(need) + " bytes, data has " + std::to_string(data.ByteLength()));
  }
  return Guard(env, "fromArray", [&] {
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    if (need) {
      auto* src = static_cast<const uint8_t*>(data.ArrayBuffer().Data()) + data.ByteOffset();
      std::memcpy(t.data_ptr(), src, need);
    }
    if (info.Length() > 3 && !info[3].IsUndefined()) {
      c10::Device dev = ParseDevice(env, info[3], "fromArray");
      if (dev != t.device()) t = t.to(dev);
    }
    return WrapTensor(env, std::move(t));
  });
}

// toArray(h) -> ArrayBuffer holding a contiguous CPU copy of the data.
static Napi::Value ToArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = UnwrapTensor(env, info[0], "toArray");
  return Guard(env, "toArray", [&]() -> Napi::Value {
    at::Tensor c = t.detach();
    if (!c.is_cpu()) c = c.to(at::kCPU);
    c = c.contiguous();
    size_t bytes = c.numel() * c.element_size();
    auto buf = Napi::ArrayBuffer::New(env, bytes);
    if (bytes) std::memcpy(buf.Data(), c.data_ptr(), bytes);
    return buf;
  });
}

// meta(h) -> [shape, dtype, device, requiresGrad]
static Napi::Value Meta(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = UnwrapTensor(env, info[0], "meta");
  auto shape = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t.size(i))));
  auto out = Napi::Array::New(env, 4);
  out.Set(0u, shape);
  out.Set(1u, Napi::String::New(env, DtypeName(t.scalar_type())));
  out.Set(2u, Napi::String::New(env, t.device().str()));
  out.Set(3u, Napi::Boolean::New(env, t.requires_grad()));
  return out;
}

static Napi::Value Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = UnwrapTensor(env, info[0], "shape");
  auto shape = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t.size(i))));
  return shape;
}

static Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReleaseBox(env, UnwrapBox(env, info[0], "dispose"));
  return env.Undefined();
}

static Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, !UnwrapBox(env, info[0], "isDisposed")->tensor.defined());
}

static Napi::Value Item(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = UnwrapTensor(env, info[0], "item");
  return Guard(env, "item (" + DescribeTensor(t) + ")", [&]() -> Napi::Value {
    c10::Scalar s = t.item();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    return Napi::Number::New(env, s.toDouble());
  });
}

// share(h) -> a second handle on the same tensor (same storage, same autograd node).
static Napi::Value Share(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return WrapTensor(env, UnwrapTensor(env, info[0], "share"), /*report=*/false);
}

// Bytes held by the tensor's storage (shared storage counted once per storage).
static Napi::Value StorageBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = UnwrapTensor(env, info[0], "storageBytes");
  return Napi::Number::New(env, t.has_storage() ? static_cast<double>(t.storage().nbytes()) : 0.0);
}

static Napi::Value SameStorage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& a = UnwrapTensor(env, info[0], "sameStorage");
  at::Tensor& b = UnwrapTensor(env, info[1], "sameStorage");
  return Napi::Boolean::New(env, a.has_storage() && b.has_storage() && a.storage().is_alias_of(b.storage()));
}

// liveHandles() -> { handles, bytes }: tensor handles not yet disposed or
// finalized, and the storage bytes they own. A leak check that does not
// depend on the C allocator returning freed pages to the system.
static Napi::Value LiveHandles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("handles", Napi::Number::New(env, static_cast<double>(g_liveHandles.load())));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(g_liveBytes.load())));
  return o;
}

void InitTensor(Napi::Env env, Napi::Object exports) {
  exports.Set("liveHandles", Napi::Function::New(env, LiveHandles, "liveHandles"));
  exports.Set("fromArray", Napi::Function::New(env, FromArray, "fromArray"));
  exports.Set("toArray", Napi::Function::New(env, ToArray, "toArray"));
  exports.Set("meta", Napi::Function::New(env, Meta, "meta"));
  exports.Set("shape", Napi::Function::New(env, Shape, "shape"));
  exports.Set("dispose", Napi::Function::New(env, Dispose, "dispose"));
  exports.Set("isDisposed", Napi::Function::New(env, IsDisposed, "isDisposed"));
  exports.Set("item", Napi::Function::New(env, Item, "item"));
  exports.Set("share", Napi::Function::New(env, Share, "share"));
  exports.Set("storageBytes", Napi::Function::New(env, StorageBytes, "storageBytes"));
  exports.Set("sameStorage", Napi::Function::New(env, SameStorage, "sameStorage"));
}

}  // namespace slimnet
