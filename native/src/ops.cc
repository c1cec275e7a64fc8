// The generic op bridge: any ATen operator, found by schema name, called
// through the boxed dispatcher (so autograd, CPU and CUDA kernels all apply).
// JS arguments are converted by the kind each schema argument declares.
#include "common.h"
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/jit_type.h>
#include <c10/core/GradMode.h>

namespace slimnet {

enum class Kind {
  Tensor, TensorList, OptTensorList, Int, Float, Bool, Scalar, IntList, FloatList, BoolList,
  String, ScalarType, Layout, MemoryFormat, Device, Generator, Unsupported
};

struct ArgSpec {
  std::string name;
  Kind kind;
  bool optional;
  c10::optional<int32_t> n;  // fixed list length, e.g. int[2]
  c10::optional<c10::IValue> defaultValue;
  std::string typeText;
};

struct OpEntry {
  c10::OperatorHandle handle;
  std::string name;
  std::vector<ArgSpec> args;
  size_t numReturns;
  // For each return: index of the argument it aliases and writes (in-place and
  // out= ops), or -1. Such returns hand back the caller's own JS tensor.
  std::vector<int> returnAliases;
};

static const napi_type_tag kOpTag = {0x736c696d6e657432ULL, 0x6f70ULL};

static Kind KindOfElement(const c10::TypePtr& fake, const c10::TypePtr& real) {
  switch (fake->kind()) {
    case c10::TypeKind::TensorType: return Kind::Tensor;
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      switch (real->kind()) {
        case c10::TypeKind::ScalarTypeType: return Kind::ScalarType;
        case c10::TypeKind::LayoutType: return Kind::Layout;
        case c10::TypeKind::MemoryFormatType: return Kind::MemoryFormat;
        default: return Kind::Int;
      }
    case c10::TypeKind::FloatType: return Kind::Float;
    case c10::TypeKind::BoolType: return Kind::Bool;
    case c10::TypeKind::NumberType: return Kind::Scalar;
    case c10::TypeKind::StringType: return Kind::String;
    case c10::TypeKind::DeviceObjType: return Kind::Device;
    case c10::TypeKind::GeneratorType: return Kind::Generator;
    case c10::TypeKind::ScalarTypeType: return Kind::ScalarType;
    case c10::TypeKind::LayoutType: return Kind::Layout;
    case c10::TypeKind::MemoryFormatType: return Kind::MemoryFormat;
    case c10::TypeKind::ListType: {
      auto elem = fake->castRaw<c10::ListType>()->getElementType();
      switch (elem->kind()) {
        case c10::TypeKind::TensorType: return Kind::TensorList;
        case c10::TypeKind::OptionalType: return Kind::OptTensorList;
        case c10::TypeKind::IntType:
        case c10::TypeKind::SymIntType: return Kind::IntList;
        case c10::TypeKind::FloatType: return Kind::FloatList;
        case c10::TypeKind::BoolType: return Kind::BoolList;
        default: return Kind::Unsupported;
      }
    }
    default: return Kind::Unsupported;
  }
}

static ArgSpec SpecOf(const c10::Argument& a) {
  ArgSpec s{a.name(), Kind::Unsupported, false, a.N(), a.default_value(), a.type()->annotation_str()};
  c10::TypePtr fake = a.type();
  c10::TypePtr real = a.real_type();
  if (fake->kind() == c10::TypeKind::OptionalType) {
    s.optional = true;
    fake = fake->castRaw<c10::OptionalType>()->getElementType();
    if (real->kind() == c10::TypeKind::OptionalType) real = real->castRaw<c10::OptionalType>()->getElementType();
  }
  s.kind = KindOfElement(fake, real);
  return s;
}

static OpEntry* UnwrapOp(Napi::Env env, const Napi::Value& v) {
  if (!v.IsExternal() || !v.As<Napi::External<OpEntry>>().CheckTypeTag(&kOpTag)) {
    throw Napi::TypeError::New(env, "expected an op handle from findOp()");
  }
  return v.As<Napi::External<OpEntry>>().Data();
}

// findOp(name, overload) -> op handle; throws naming the op when unknown.
static Napi::Value FindOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "findOp: name must be a string like 'aten::conv2d'");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  if (name.find("::") == std::string::npos) name = "aten::" + name;
  auto found = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!found) {
    throw Napi::Error::New(env, "unknown op '" + name + (overload.empty() ? "" : "." + overload) + "'");
  }
  const auto& schema = found->schema();
  auto* entry = new OpEntry{*found, name + (overload.empty() ? "" : "." + overload), {}, schema.returns().size(), {}};
  for (const auto& a : schema.arguments()) entry->args.push_back(SpecOf(a));
  for (const auto& r : schema.returns()) {
    int alias = -1;
    if (r.alias_info() && r.alias_info()->isWrite()) {
      for (size_t j = 0; j < schema.arguments().size(); ++j) {
        const auto* ai = schema.arguments()[j].alias_info();
        if (ai && ai->isWrite() && ai->beforeSets() == r.alias_info()->beforeSets()) {
          alias = static_cast<int>(j);
          break;
        }
      }
    }
    entry->returnAliases.push_back(alias);
  }
  auto ext = Napi::External<OpEntry>::New(env, entry, [](Napi::BasicEnv, OpEntry* e) { delete e; });
  ext.TypeTag(&kOpTag);
  return ext;
}

static std::string KindName(const ArgSpec& s) { return s.typeText; }

[[noreturn]] static void BadArg(Napi::Env env, const OpEntry& op, const ArgSpec& s, const std::string& problem) {
  throw Napi::TypeError::New(env, op.name + ": argument '" + s.name + "' (" + KindName(s) + ") " + problem);
}

static std::string JsTypeName(const Napi::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsUndefined()) return "undefined";
  if (v.IsArray()) return "array";
  if (v.IsExternal()) return "tensor";
  switch (v.Type()) {
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_function: return "function";
    default: return "object";
  }
}

static int64_t ToInt(Napi::Env env, const OpEntry& op, const ArgSpec& s, const Napi::Value& v) {
  if (!v.IsNumber()) BadArg(env, op, s, "expects an integer, got " + JsTypeName(v));
  double d = v.As<Napi::Number>().DoubleValue();
  auto i = static_cast<int64_t>(d);
  if (static_cast<double>(i) != d) BadArg(env, op, s, "expects an integer, got " + std::to_string(d));
  return i;
}

static c10::IValue ToIValue(Napi::Env env, const OpEntry& op, const ArgSpec& s, const Napi::Value& v) {
  switch (s.kind) {
    case Kind::Tensor:
      if (!v.IsExternal()) BadArg(env, op, s, "expects a tensor, got " + JsTypeName(v));
      return UnwrapTensor(env, v, op.name + ": argument '" + s.name + "'");
    case Kind::Int: return ToInt(env, op, s, v);
    case Kind::Float:
      if (!v.IsNumber()) BadArg(env, op, s, "expects a number, got " + JsTypeName(v));
      return v.As<Napi::Number>().DoubleValue();
    case Kind::Bool:
      if (!v.IsBoolean()) BadArg(env, op, s, "expects a boolean, got " + JsTypeName(v));
      return v.As<Napi::Boolean>().Value();
    case Kind::Scalar: {
      if (v.IsBoolean()) return c10::IValue(v.As<Napi::Boolean>().Value());
      if (!v.IsNumber()) BadArg(env, op, s, "expects a number, got " + JsTypeName(v));
      double d = v.As<Napi::Number>().DoubleValue();
      auto i = static_cast<int64_t>(d);
      // Whole numbers travel as integers so integer tensors keep their dtype;
      // float tensors promote them exactly as PyTorch does with Python ints.
      if (static_cast<double>(i) == d && std::abs(d) < 9007199254740992.0) return c10::IValue(i);
      return c10::IValue(d);
    }
    case Kind::IntList: {
      if (v.IsNumber() && s.n) return c10::List<int64_t>(std::vector<int64_t>(*s.n, ToInt(env, op, s, v)));
      if (!v.IsArray()) BadArg(env, op, s, "expects an array of integers, got " + JsTypeName(v));
      auto arr = v.As<Napi::Array>();
      c10::List<int64_t> list;
      list.reserve(arr.Length());
      for (uint32_t i = 0; i < arr.Length(); ++i) list.push_back(ToInt(env, op, s, arr.Get(i)));
      return list;
    }
    case Kind::FloatList: {
      if (!v.IsArray()) BadArg(env, op, s, "expects an array of numbers, got " + JsTypeName(v));
      auto arr = v.As<Napi::Array>();
      c10::List<double> list;
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value e = arr.Get(i);
        if (!e.IsNumber()) BadArg(env, op, s, "expects an array of numbers");
        list.push_back(e.As<Napi::Number>().DoubleValue());
      }
      return list;
    }
    case Kind::BoolList: {
      if (!v.IsArray()) BadArg(env, op, s, "expects an array of booleans, got " + JsTypeName(v));
      auto arr = v.As<Napi::Array>();
      c10::List<bool> list;
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value e = arr.Get(i);
        if (!e.IsBoolean()) BadArg(env, op, s, "expects an array of booleans");
        list.push_back(e.As<Napi::Boolean>().Value());
      }
      return list;
    }
    case Kind::TensorList: {
      if (!v.IsArray()) BadArg(env, op, s, "expects an array of tensors, got " + JsTypeName(v));
      auto arr = v.As<Napi::Array>();
      c10::List<at::Tensor> list;
      list.reserve(arr.Length());
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        list.push_back(UnwrapTensor(env, arr.Get(i), op.name + ": argument '" + s.name + "'[" + std::to_string(i) + "]"));
      }
      return list;
    }
    case Kind::OptTensorList: {
      if (!v.IsArray()) BadArg(env, op, s, "expects an array of tensors or nulls, got " + JsTypeName(v));
      auto arr = v.As<Napi::Array>();
      c10::List<c10::optional<at::Tensor>> list;
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value e = arr.Get(i);
        if (e.IsNull() || e.IsUndefined()) list.push_back(c10::nullopt);
        else list.push_back(UnwrapTensor(env, e, op.name + ": argument '" + s.name + "'[" + std::to_string(i) + "]"));
      }
      return list;
    }
    case Kind::String:
      if (!v.IsString()) BadArg(env, op, s, "expects a string, got " + JsTypeName(v));
      return v.As<Napi::String>().Utf8Value();
    case Kind::ScalarType:
      return static_cast<int64_t>(ParseDtype(env, v, op.name + ": argument '" + s.name + "'"));
    case Kind::Layout: {
      if (v.IsString() && v.As<Napi::String>().Utf8Value() == "strided") return static_cast<int64_t>(c10::Layout::Strided);
      BadArg(env, op, s, "supports only 'strided'");
    }
    case Kind::MemoryFormat: {
      std::string f = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
      if (f == "contiguous") return static_cast<int64_t>(c10::MemoryFormat::Contiguous);
      if (f == "preserve") return static_cast<int64_t>(c10::MemoryFormat::Preserve);
      if (f == "channels_last") return static_cast<int64_t>(c10::MemoryFormat::ChannelsLast);
      BadArg(env, op, s, "expects 'contiguous', 'preserve' or 'channels_last'");
    }
    case Kind::Device: return ParseDevice(env, v, op.name + ": argument '" + s.name + "'");
    case Kind::Generator: BadArg(env, op, s, "cannot be given from JS (pass null to use the default generator)");
    case Kind::Unsupported: BadArg(env, op, s, "has a type the bridge does not convert");
  }
  BadArg(env, op, s, "unhandled");
}

// Builds the boxed stack from info[first..]; missing trailing arguments take
// the schema default (or None when optional).
static std::vector<c10::IValue> BuildStack(const Napi::CallbackInfo& info, const OpEntry& op, size_t first) {
  Napi::Env env = info.Env();
  size_t given = info.Length() - first;
  if (given > op.args.size()) {
    throw Napi::TypeError::New(env, op.name + ": takes " + std::to_string(op.args.size()) + " arguments, got " + std::to_string(given));
  }
  std::vector<c10::IValue> stack;
  stack.reserve(op.args.size());
  for (size_t i = 0; i < op.args.size(); ++i) {
    const ArgSpec& s = op.args[i];
    Napi::Value v = i < given ? info[first + i] : env.Undefined();
    if (v.IsUndefined()) {
      if (s.defaultValue) { stack.push_back(*s.defaultValue); continue; }
      if (s.optional) { stack.emplace_back(); continue; }
      throw Napi::TypeError::New(env, op.name + ": missing required argument '" + s.name + "' (" + KindName(s) + ")");
    }
    if (v.IsNull()) {
      if (s.optional || s.kind == Kind::Generator) { stack.emplace_back(); continue; }
      BadArg(env, op, s, "is not optional, got null");
    }
    stack.push_back(ToIValue(env, op, s, v));
  }
  return stack;
}

// Short, bounded descriptions for error messages: tensors by shape and dtype,
// lists by their first few elements, never by their data.
static std::string DescribeValue(const c10::IValue& v, int depth = 0) {
  if (v.isTensor()) return DescribeTensor(v.toTensor());
  if (v.isNone()) return "None";
  if (v.isList()) {
    auto list = v.toListRef();
    std::string out = "[";
    size_t shown = std::min<size_t>(list.size(), 4);
    for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + (depth < 2 ? DescribeValue(list[i], depth + 1) : std::string("..."));
    if (list.size() > shown) out += ", ... (" + std::to_string(list.size()) + " items)";
    return out + "]";
  }
  if (v.isInt() || v.isDouble() || v.isBool() || v.isString() || v.isDevice()) {
    std::ostringstream os;
    os << v;
    return os.str();
  }
  return v.tagKind();
}

static std::string DescribeArgs(const OpEntry& op, const std::vector<c10::IValue>& stack) {
  std::string out = op.name + "(";
  for (size_t i = 0; i < stack.size() && i < op.args.size(); ++i) {
    if (i) out += ", ";
    out += op.args[i].name + "=" + DescribeValue(stack[i]);
  }
  return out + ")";
}

static Napi::Value FromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (!t.defined()) return env.Null();
    return WrapTensor(env, t);
  }
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) arr.Set(static_cast<uint32_t>(i), WrapTensor(env, list.get(i)));
    return arr;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    auto arr = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); ++i) arr.Set(static_cast<uint32_t>(i), FromIValue(env, elems[i]));
    return arr;
  }
  if (v.isIntList()) {
    auto list = v.toIntVector();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(list[i])));
    return arr;
  }
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  throw Napi::Error::New(env, std::string("op returned a value the bridge does not convert: ") + v.tagKind());
}

// Converts the stack left by callBoxed into the JS result: undefined for no
// return, the value for one, an array for several.
static Napi::Value Results(Napi::Env env, const OpEntry& op, std::vector<c10::IValue>& stack,
                           const std::function<Napi::Value(int)>& aliasedArg) {
  auto one = [&](size_t i) -> Napi::Value {
    int alias = op.returnAliases[i];
    if (alias >= 0) {
      Napi::Value orig = aliasedArg(alias);
      if (!orig.IsEmpty()) return orig;
    }
    return FromIValue(env, stack[i]);
  };
  if (op.numReturns == 0) return env.Undefined();
  if (op.numReturns == 1) return one(0);
  auto arr = Napi::Array::New(env, op.numReturns);
  for (size_t i = 0; i < op.numReturns; ++i) arr.Set(static_cast<uint32_t>(i), one(i));
  return arr;
}

// call(op, ...args) -> result
static Napi::Value CallOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpEntry* op = UnwrapOp(env, info[0]);
  std::vector<c10::IValue> stack = BuildStack(info, *op, 1);
  try {
    op->handle.callBoxed(stack);
  } catch (const c10::Error& e) {
    std::vector<c10::IValue> again = BuildStack(info, *op, 1);
    throw Napi::Error::New(env, DescribeArgs(*op, again) + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, op->name + ": " + e.what());
  }
  return Results(env, *op, stack, [&](int j) -> Napi::Value { return info[1 + j]; });
}

// Runs one op on the libuv thread pool; the promise resolves with its result.
class CallWorker : public Napi::AsyncWorker {
 public:
  CallWorker(Napi::Env env, OpEntry* op, std::vector<c10::IValue> stack, std::vector<Napi::Reference<Napi::Value>> keep)
      : Napi::AsyncWorker(env), op_(op), stack_(std::move(stack)), keep_(std::move(keep)),
        gradEnabled_(c10::GradMode::is_enabled()), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      c10::AutoGradMode mode(gradEnabled_);
      op_->handle.callBoxed(stack_);
    } catch (const c10::Error& e) {
      SetError(op_->name + ": " + e.what_without_backtrace());
    } catch (const std::exception& e) {
      SetError(op_->name + ": " + e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Results(env, *op_, stack_, [&](int j) -> Napi::Value {
        return j < static_cast<int>(keep_.size()) ? keep_[j].Value() : Napi::Value();
      }));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  OpEntry* op_;
  std::vector<c10::IValue> stack_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
  bool gradEnabled_;
  Napi::Promise::Deferred deferred_;
};

static Napi::Value CallOpAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpEntry* op = UnwrapOp(env, info[0]);
  std::vector<c10::IValue> stack = BuildStack(info, *op, 1);
  // Hold the JS argument handles until the promise settles, so tensors the op
  // writes stay alive and in-place results can hand back the caller's object.
  std::vector<Napi::Reference<Napi::Value>> keep;
  for (size_t i = 1; i < info.Length(); ++i) {
    if (info[i].IsExternal()) keep.push_back(Napi::Persistent(info[i]));
    else keep.emplace_back();
  }
  auto* w = new CallWorker(env, op, std::move(stack), std::move(keep));
  auto promise = w->Promise();
  w->Queue();
  return promise;
}

static Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpEntry* op = UnwrapOp(env, info[0]);
  std::ostringstream os;
  os << op->handle.schema();
  return Napi::String::New(env, os.str());
}

// listOps() -> every registered operator as 'ns::name.overload'
static Napi::Value ListOps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto names = c10::Dispatcher::singleton().getAllOpNames();
  auto arr = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& n = names[i];
    arr.Set(static_cast<uint32_t>(i), Napi::String::New(env, n.name + (n.overload_name.empty() ? "" : "." + n.overload_name)));
  }
  return arr;
}

void InitOps(Napi::Env env, Napi::Object exports) {
  exports.Set("findOp", Napi::Function::New(env, FindOp, "findOp"));
  exports.Set("call", Napi::Function::New(env, CallOp, "call"));
  exports.Set("callAsync", Napi::Function::New(env, CallOpAsync, "callAsync"));
  exports.Set("opSchema", Napi::Function::New(env, OpSchema, "opSchema"));
  exports.Set("listOps", Napi::Function::New(env, ListOps, "listOps"));
}

}  // namespace slimnet
