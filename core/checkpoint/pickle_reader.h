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
    PickleKind kind = PickleKind::None;
    // Bool and Int: the value. Callable: a PickleCallable. Storage and Tensor: an index into
    // PickleDocument::storages() / tensors().
    int64_t integer = 0;
    double real = 0.0;  // Float
    std::string text;   // String and Bytes: the content. Callable: "module.name".
    DType dtype = DType::F32;  // Callable StorageType: the element type it names
    // Tuple and List: the elements. Dict: key, value, key, value, ... in insertion order.
    // Entries are indices into PickleDocument::values().
    std::vector<std::size_t> items;
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

// Runs a restricted unpickler (protocols 2 to 5; the opcodes torch.save emits plus FRAME,
// MEMOIZE, STACK_GLOBAL and the string/bytes variants) over bytes[0, size). It never imports,
// calls or constructs anything beyond PickleKind: a GLOBAL outside the allow-list
// (collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter,
// torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage) is refused with
// "<fileName>: refuses to load: the pickle names the global 'os.system', which is not part of a
// tensor state dict". Every read is bounds-checked; every other failure throws Error
// "<fileName>: <pickleName> byte <n>: <problem>". Thread-safe (no shared state).
PickleDocument readPickle(const uint8_t* bytes, std::size_t size, const std::string& fileName,
                          const std::string& pickleName = "data.pkl", const PickleLimits& limits = {});

}  // namespace tokenscope
