// One declaration per native op: its arguments by name (buffers with dtype and shape,
// sizes, scalars with ranges) and the call of its CPU / CUDA twin. The spec drives the one
// argument checker (Call, op_spec.cpp), the size limits (limits.h), the export list and the
// description that lib/native/ops.generated.ts is written from (scripts/gen-binding.js).
//
//   S4_OP(linearForward, "linear") {
//     return OpSpec()
//         .in("x", {"M", "K"}).in("weight", {"N", "K"}).optionalIn("bias", {"N"})
//         .out("out", {"M", "N"})
//         .dim("M").dim("K").dim("N")
//         .run([](const Call& c) {
//           S4_DISPATCH(c.device(), linearForward(c.in("x"), c.in("weight"), c.optionalIn("bias"),
//                                                 c.out("out"), c.dim("M"), c.dim("K"), c.dim("N")));
//         });
//   }
//
// JS calls the export positionally in declaration order (the generated TS binding turns
// named arguments into that order). A shape is a list of extents: a size argument ("H"),
// a multiple plus a constant ("2*H", "10*N2+2") or a number ("1"). Buffers are checked for
// their byte count (extents x dtype size) and for living on the device of the first buffer
// given; sizes and scalars for their ranges. See docs/ARCHITECTURE.md, "Adding an op".
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "../common/device.h"
#include "../common/storage.h"
#include "limits.h"

namespace s4::binding {

enum class DType { F32, C64 };
// Arguments of one op at most (OpSpec::finish checks).
constexpr size_t kMaxOpArgs = 24;
enum class ArgKind { In, Out, InOut, Size, Number, Flag, Choice };

// One extent of a shape: mul * size(dim) + add, or the constant `add` when dim < 0.
struct Extent {
  std::string text;
  int dim = -1;  // index of the size argument in OpSpec::args
  int64_t mul = 1, add = 0;
};

struct Range {
  double min, max;
  bool minOpen = false, maxOpen = false;
};

struct ArgSpec {
  const char* name;
  ArgKind kind;
  DType dtype = DType::F32;
  std::vector<std::string> shapeText;  // as written; resolved into `shape` at registration
  std::vector<Extent> shape;
  bool optional = false;
  bool integer = false;  // Size args and integer scalars
  Range range{0, 0};
  std::vector<std::string> choices;
};

class Call;

class OpSpec {
 public:
  using Run = std::function<void(Call&)>;

  // Buffers: read (in), written (out), read and written in place (inOut).
  OpSpec& in(const char* name, std::vector<std::string> shape, DType dtype = DType::F32);
  OpSpec& optionalIn(const char* name, std::vector<std::string> shape, DType dtype = DType::F32);
  OpSpec& out(const char* name, std::vector<std::string> shape, DType dtype = DType::F32);
  OpSpec& optionalOut(const char* name, std::vector<std::string> shape, DType dtype = DType::F32);
  OpSpec& inOut(const char* name, std::vector<std::string> shape, DType dtype = DType::F32);
  OpSpec& optionalInOut(const char* name, std::vector<std::string> shape, DType dtype = DType::F32);
  // A size: an integer in [min, kMaxDim]. count(): a flat element count in [min, kMaxElements].
  OpSpec& dim(const char* name, int64_t min = 1, int64_t max = kMaxDim);
  OpSpec& count(const char* name, int64_t min = 1);
  // Scalars.
  OpSpec& integer(const char* name, int64_t min, int64_t max);
  OpSpec& number(const char* name, Range range);
  OpSpec& number(const char* name) { return number(name, Range{-kHuge, kHuge}); }
  OpSpec& flag(const char* name);
  OpSpec& choice(const char* name, std::vector<std::string> choices);
  // Buffers `a` and `b` must not be the same buffer (the kernel reads one while writing the other).
  OpSpec& distinct(const char* a, const char* b);
  // The op returns a number (set with Call::result); default: undefined.
  OpSpec& returnsNumber();
  OpSpec& run(Run fn);
  // Adds a group of arguments that several specs of a family share, in order: part is a
  // function of the spec file, e.g. OpSpec& channelSizes(OpSpec& s) { return s.dim("B")...; }.
  OpSpec& with(OpSpec& (*part)(OpSpec&)) { return part(*this); }

  std::string name, family;
  std::vector<ArgSpec> args;
  std::vector<std::pair<int, int>> distinctPairs;
  bool returns = false;
  Run fn;

  int indexOf(const char* arg) const;  // -1 if absent
  // Resolves shape texts to size arguments; throws std::logic_error on a malformed spec.
  void finish();

 private:
  OpSpec& buffer(const char* name, ArgKind kind, std::vector<std::string> shape, DType dtype, bool optional);
  OpSpec& scalar(const char* name, ArgKind kind, bool integer, Range range);
  static constexpr double kHuge = 1.7976931348623157e308;
};

// The checked arguments of one call. Accessors take the names of the spec; asking for a
// name of the wrong kind is a programming error (std::logic_error, a test fails).
class Call {
 public:
  Call(const OpSpec& spec, const Napi::CallbackInfo& info);

  Device device() const { return device_; }
  float* in(const char* name) const { return buffer(name, false); }
  float* out(const char* name) const { return buffer(name, false); }
  float* inOut(const char* name) const { return buffer(name, false); }
  float* optionalIn(const char* name) const { return buffer(name, true); }
  float* optionalOut(const char* name) const { return buffer(name, true); }
  float* optionalInOut(const char* name) const { return buffer(name, true); }
  int64_t dim(const char* name) const;
  int64_t integer(const char* name) const { return dim(name); }
  double number(const char* name) const;
  bool flag(const char* name) const;
  int choice(const char* name) const;  // index into the spec's choices
  void result(double v) { result_ = v; }
  double resultValue() const { return result_; }
  const char* fn() const { return spec_.name.c_str(); }

 private:
  int index(const char* name) const;
  float* buffer(const char* name, bool optional) const;

  const OpSpec& spec_;
  // Fixed arrays, not vectors: a call allocates nothing on the heap.
  Storage* buffers_[kMaxOpArgs] = {};
  double values_[kMaxOpArgs] = {};
  Device device_ = Device::CPU;
  double result_ = 0;
};

using SpecFn = OpSpec (*)();
struct OpRegistrar {
  OpRegistrar(const char* name, const char* family, SpecFn fn);
};

// Exports every registered op and `opSpecs()` (the descriptions, for the generated binding).
void exportOps(Napi::Env env, Napi::Object exports);

}  // namespace s4::binding

#define S4_OP(opName, opFamily)                                                                \
  static ::s4::binding::OpSpec s4_op_spec_##opName();                                          \
  static ::s4::binding::OpRegistrar s4_op_registrar_##opName(#opName, opFamily, s4_op_spec_##opName); \
  static ::s4::binding::OpSpec s4_op_spec_##opName()

// Declares the CPU and CUDA twins of an op with one C++ signature. The definitions live in
// native/cpu/<family>.cpp and native/cuda/<family>.cu; a definition whose signature differs
// leaves the declared symbol undefined, which the build rejects (scripts/check-undefined.cmake).
#define S4_TWIN(ret, name, params) \
  namespace s4::cpu {              \
  ret name params;                 \
  }                                \
  namespace s4::cuda {             \
  ret name params;                 \
  }
