#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/dtype.h"

namespace tokenscope {

// The kinds of value the restricted unpickler can build. Everything a torch.save state dict
// needs, and nothing that could run code.
enum class PickleKind {
    None,
    Bool,
    Int,
    Float,
    String,   // BINUNICODE and friends, and protocol-2 BINSTRING
    Bytes,    // BINBYTES and friends
    Tuple,
    List,
    Dict,     // dict and collections.OrderedDict (insertion order kept)
    Callable, // one of the allow-listed globals, see PickleCallable
    Storage,  // a persistent id ("storage", torch.<T>Storage, key, location, numel)
    Tensor,   // the result of torch._utils._rebuild_tensor_v2 (or _rebuild_parameter of one)
    Opaque,   // UnknownGlobals::Opaque only: a placeholder for what the pickle would have built
              // but a state dict never holds (see PickleOpaqueOrigin); never constructed
};

// What an opaque value stands for. PickleValue::text says which global or what problem.
enum class PickleOpaqueOrigin {
    Global,        // a global outside the allow-list, or what its REDUCE / NEWOBJ made
    BadArguments,  // an allow-listed callable applied to arguments it does not take
    Unsupported,   // a value kind with no place in a state dict (set, int wider than 64 bits, ...)
};

// What readPickle does with a GLOBAL outside the allow-list.
enum class UnknownGlobals {
    // Refuse the whole pickle (pytorch_model.bin: it must be a plain tensor state dict).
    Refuse,
    // Push an opaque placeholder instead (Lightning .ckpt bookkeeping: callbacks, optimizer
    // states, numpy scalars...). Nothing is imported or called: REDUCE / NEWOBJ / NEWOBJ_EX on an
    // opaque value give an opaque value of the same origin; SETITEM(S) on one record the pairs in
    // its items, BUILD records its state in PickleValue::state, APPEND(S) / ADDITEMS drop theirs.
    // An allow-listed callable applied to the wrong arguments also gives an opaque value
    // (BadArguments) instead of failing, and so do sets, frozensets and ints wider than 64 bits
    // (Unsupported); BYTEARRAY8 gives Bytes. (Under Refuse, EMPTY_SET, ADDITEMS, FROZENSET,
    // NEWOBJ_EX and BYTEARRAY8 are unsupported opcodes and a wide int is an error.)
    // It is the caller's job to refuse an opaque value wherever it needs a real one.
    Opaque,
};

// The only globals the unpickler resolves; every other GLOBAL is refused before anything is
// built from it.
enum class PickleCallable { OrderedDict, RebuildTensorV2, RebuildParameter, StorageType };

struct PickleStorage {
    DType dtype = DType::F32;
    std::string key;       // names the zip member "<dir>/data/<key>"
    std::string location;  // "cpu", "cuda:0", ...; informational
    int64_t numel = 0;     // elements of dtype in the storage, >= 0
};

// The arguments of _rebuild_tensor_v2 as they were pickled. Only their types are checked here;
// ranges (negative sizes, overflow, fit inside the storage) are the caller's to check, because
// only it knows the tensor's name and the storage's real size.
struct PickleTensor {
    std::size_t storage = 0;  // index into PickleDocument::storages()
    int64_t storageOffset = 0;  // elements
    std::vector<int64_t> shape;
    std::vector<int64_t> strides;  // elements; same length as shape
    bool requiresGrad = false;
};

// One node of the object graph.
struct PickleValue {
    static constexpr std::size_t kNoState = static_cast<std::size_t>(-1);

    PickleKind kind = PickleKind::None;
    // Bool and Int: the value. Callable: a PickleCallable. Storage and Tensor: an index into
    // PickleDocument::storages() / tensors(). Opaque: a PickleOpaqueOrigin.
    int64_t integer = 0;
    double real = 0.0;  // Float
    // String and Bytes: the content. Callable: "module.name". Opaque: the global's printable
    // "module.name" (Global), the problem (BadArguments) or what it was ("a set", Unsupported).
    std::string text;
    DType dtype = DType::F32;  // Callable StorageType: the element type it names
    // Tuple and List: the elements. Dict, and Opaque (what SETITEM(S) gave it: the entries of a
    // dict subclass such as AttributeDict): key, value, key, value, ... in insertion order.
    // Entries are indices into PickleDocument::values().
    std::vector<std::size_t> items;
    // Opaque: the value its last BUILD gave it (an object's __dict__, e.g. argparse.Namespace's
    // attributes, or a (dict, slots) tuple), or kNoState.
    std::size_t state = kNoState;
};

// Everything one pickle built. Values refer to each other by index, never by pointer, so a
// pickle that puts a list inside itself creates no ownership cycle and nothing needs recursion.
class PickleDocument {
public:
    std::size_t root() const { return m_root; }
    const PickleValue& value(std::size_t index) const { return m_values.at(index); }
    const std::vector<PickleValue>& values() const { return m_values; }
    const std::vector<PickleStorage>& storages() const { return m_storages; }
    const std::vector<PickleTensor>& tensors() const { return m_tensors; }

private:
    friend class PickleMachine;
    std::vector<PickleValue> m_values;
    std::vector<PickleStorage> m_storages;
    std::vector<PickleTensor> m_tensors;
    std::size_t m_root = 0;
};

// "tuple", "OrderedDict/dict", ... for error messages.
std::string_view pickleKindName(PickleKind kind);

// Limits of the unpickler; a pickle that exceeds one is refused. Real state dicts stay far
// below them (a 7B-parameter shard: a few thousand values, stack depth < 3000, marks < 4).
struct PickleLimits {
    std::size_t maxValues = std::size_t{1} << 21;
    std::size_t maxStackSize = std::size_t{1} << 20;
    std::size_t maxMarkDepth = 256;
    std::size_t maxMemoSize = std::size_t{1} << 21;
    std::size_t maxGlobalNameSize = 256;
    std::size_t maxTensorDims = 64;
};

// The message readPickle (UnknownGlobals::Refuse) and the Lightning reader give for a global
// outside the allow-list: "<fileName>: refuses to load: the pickle names the global 'os.system',
// which is not part of a tensor state dict". globalName is printed as it is.
std::string refusedGlobalMessage(const std::string& fileName, const std::string& globalName);

// Runs a restricted unpickler (protocols 2 to 5; the opcodes torch.save emits plus FRAME,
// MEMOIZE, STACK_GLOBAL, POP, POP_MARK, DUP and the string/bytes variants) over bytes[0, size).
// It never imports, calls or constructs anything beyond PickleKind. A GLOBAL outside the
// allow-list (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter, torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,
// Bool}Storage) is refused with refusedGlobalMessage() under UnknownGlobals::Refuse, and becomes
// an opaque placeholder under UnknownGlobals::Opaque (see there). Every read is bounds-checked,
// the limits hold in both modes, and nothing recurses; every other failure throws Error
// "<fileName>: <pickleName> byte <n>: <problem>". Thread-safe (no shared state).
PickleDocument readPickle(const uint8_t* bytes, std::size_t size, const std::string& fileName,
                          const std::string& pickleName = "data.pkl", const PickleLimits& limits = {},
                          UnknownGlobals unknownGlobals = UnknownGlobals::Refuse);

}  // namespace tokenscope
