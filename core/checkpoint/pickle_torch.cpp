// The torch side of the restricted unpickler: the allow-listed globals (OrderedDict,
// _rebuild_tensor_v2, _rebuild_parameter, torch.*Storage), REDUCE / NEWOBJ of them, and the
// storages (persistent ids) and tensors they rebuild.
#include "checkpoint/pickle_reader.h"

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "checkpoint/pickle_reader_internal.h"
#include "common/error.h"
#include "common/printable.h"

namespace tokenscope {

namespace {

using pickle::ArgumentProblem;

struct StorageTypeName {
    std::string_view name;
    DType dtype;
};
constexpr std::array<StorageTypeName, 10> kStorageTypes{{
    {"FloatStorage", DType::F32},
    {"HalfStorage", DType::F16},
    {"BFloat16Storage", DType::BF16},
    {"DoubleStorage", DType::F64},
    {"LongStorage", DType::I64},
    {"IntStorage", DType::I32},
    {"ShortStorage", DType::I16},
    {"CharStorage", DType::I8},
    {"ByteStorage", DType::U8},
    {"BoolStorage", DType::Bool},
}};

// Printable, bounded rendering of untrusted text for messages.
std::string printableName(std::string_view text, std::size_t maxSize = 120) { return tokenscope::printable(text, maxSize); }

}  // namespace

std::string refusedGlobalMessage(const std::string& fileName, const std::string& globalName) {
    return fileName + ": refuses to load: the pickle names the global '" + globalName +
           "', which is not part of a tensor state dict";
}

std::size_t PickleMachine::resolveGlobal(const std::string& module, const std::string& name) {
    PickleCallable callable;
    DType dtype = DType::F32;
    bool known = false;
    if (module == "collections" && name == "OrderedDict") {
        callable = PickleCallable::OrderedDict;
        known = true;
    } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
        callable = PickleCallable::RebuildTensorV2;
        known = true;
    } else if (module == "torch._utils" && name == "_rebuild_parameter") {
        callable = PickleCallable::RebuildParameter;
        known = true;
    } else if (module == "torch") {
        for (const auto& entry : kStorageTypes) {
            if (name == entry.name) {
                callable = PickleCallable::StorageType;
                dtype = entry.dtype;
                known = true;
            }
        }
    }
    if (!known) {
        const std::string globalName = printableName(module) + "." + printableName(name);
        if (m_isLenient) return newOpaque(PickleOpaqueOrigin::Global, globalName);
        throw Error(refusedGlobalMessage(m_fileName, globalName));
    }
    const std::size_t index = newText(PickleKind::Callable, module + "." + name);
    at(index).integer = static_cast<int64_t>(callable);
    at(index).dtype = dtype;
    return index;
}

const PickleValue& PickleMachine::expect(std::size_t index, PickleKind kind, const char* what) {
    const PickleValue& value = at(index);
    if (value.kind != kind) {
        badArgument(std::string(what) + " is a " + std::string(pickleKindName(value.kind)) + ", expected a " +
                    std::string(pickleKindName(kind)));
    }
    return value;
}

std::vector<int64_t> PickleMachine::intTuple(std::size_t index, const char* what) {
    const PickleValue& tuple = expect(index, PickleKind::Tuple, what);
    if (tuple.items.size() > m_limits.maxTensorDims) {
        badArgument(std::string(what) + " has " + std::to_string(tuple.items.size()) + " dimensions, more than " +
             std::to_string(m_limits.maxTensorDims));
    }
    std::vector<int64_t> values;
    values.reserve(tuple.items.size());
    for (std::size_t item : tuple.items) values.push_back(expect(item, PickleKind::Int, what).integer);
    return values;
}

std::size_t PickleMachine::rebuildTensor(const std::vector<std::size_t>& args) {
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    if (args.size() != 6 && args.size() != 7) {
        badArgument("_rebuild_tensor_v2 takes 6 or 7 arguments, got " + std::to_string(args.size()));
    }
    PickleTensor tensor;
    tensor.storage = static_cast<std::size_t>(expect(args[0], PickleKind::Storage, "tensor storage").integer);
    tensor.storageOffset = expect(args[1], PickleKind::Int, "tensor storage offset").integer;
    tensor.shape = intTuple(args[2], "tensor size");
    tensor.strides = intTuple(args[3], "tensor stride");
    if (tensor.shape.size() != tensor.strides.size()) {
        badArgument("tensor size has " + std::to_string(tensor.shape.size()) + " dimensions but its stride has " +
             std::to_string(tensor.strides.size()));
    }
    const PickleValue& requiresGrad = at(args[4]);
    if (requiresGrad.kind != PickleKind::Bool && requiresGrad.kind != PickleKind::Int) {
        badArgument("tensor requires_grad is a " + std::string(pickleKindName(requiresGrad.kind)));
    }
    tensor.requiresGrad = requiresGrad.integer != 0;
    // args[5] (backward hooks, always an empty OrderedDict) and args[6] (metadata) carry nothing
    // a reader of the weights needs.
    m_doc.m_tensors.push_back(std::move(tensor));
    return newInt(PickleKind::Tensor, static_cast<int64_t>(m_doc.m_tensors.size() - 1));
}

std::size_t PickleMachine::apply(std::size_t callableIndex, std::size_t argsIndex, bool isNewObj) {
    const PickleKind kind = at(callableIndex).kind;
    if (kind == PickleKind::Opaque) return newOpaqueFrom(callableIndex);
    if (kind != PickleKind::Callable) {
        fail("REDUCE/NEWOBJ on a " + std::string(pickleKindName(kind)) + ", which is not callable");
    }
    try {
        // cls.__new__(cls, *args): only OrderedDict can be made this way.
        if (isNewObj && static_cast<PickleCallable>(at(callableIndex).integer) != PickleCallable::OrderedDict) {
            badArgument("NEWOBJ is only supported for collections.OrderedDict");
        }
        return reduce(callableIndex, argsIndex);
    } catch (const ArgumentProblem& problem) {
        if (!m_isLenient) throw;
        return newOpaque(PickleOpaqueOrigin::BadArguments, problem.message);
    }
}

std::size_t PickleMachine::reduce(std::size_t callableIndex, std::size_t argsIndex) {
    const std::vector<std::size_t> args = expect(argsIndex, PickleKind::Tuple, "REDUCE arguments").items;
    switch (static_cast<PickleCallable>(at(callableIndex).integer)) {
    case PickleCallable::OrderedDict:
        if (!args.empty()) badArgument("collections.OrderedDict is only supported with no arguments");
        return newValue(PickleKind::Dict);
    case PickleCallable::RebuildTensorV2:
        return rebuildTensor(args);
    case PickleCallable::RebuildParameter:
        // _rebuild_parameter(data, requires_grad, backward_hooks): the parameter is its tensor.
        if (args.size() != 3) badArgument("_rebuild_parameter takes 3 arguments, got " + std::to_string(args.size()));
        expect(args[0], PickleKind::Tensor, "parameter data");
        return args[0];
    case PickleCallable::StorageType:
        break;
    }
    badArgument("'" + printableName(at(callableIndex).text) + "' cannot be called in a state dict");
}

std::size_t PickleMachine::persistentLoad(std::size_t pid) {
    const PickleValue& tuple = expect(pid, PickleKind::Tuple, "persistent id");
    if (tuple.items.size() != 5) {
        fail("persistent id has " + std::to_string(tuple.items.size()) +
             " fields, expected ('storage', type, key, location, numel)");
    }
    const std::vector<std::size_t> fields = tuple.items;
    if (expect(fields[0], PickleKind::String, "persistent id tag").text != "storage") {
        fail("persistent id tag '" + printableName(at(fields[0]).text) + "' is not 'storage'");
    }
    const PickleValue& type = expect(fields[1], PickleKind::Callable, "storage type");
    if (static_cast<PickleCallable>(type.integer) != PickleCallable::StorageType) {
        fail("storage type '" + printableName(type.text) + "' is not a torch.*Storage");
    }
    PickleStorage storage;
    storage.dtype = type.dtype;
    storage.key = expect(fields[2], PickleKind::String, "storage key").text;
    storage.location = expect(fields[3], PickleKind::String, "storage location").text;
    storage.numel = expect(fields[4], PickleKind::Int, "storage size").integer;
    if (storage.numel < 0) fail("storage '" + printableName(storage.key) + "' has a negative size");
    m_doc.m_storages.push_back(std::move(storage));
    return newInt(PickleKind::Storage, static_cast<int64_t>(m_doc.m_storages.size() - 1));
}

}  // namespace tokenscope
