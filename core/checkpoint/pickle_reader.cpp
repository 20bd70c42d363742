#include "checkpoint/pickle_reader.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "common/error.h"

namespace tokenscope {

namespace {

// Opcodes (CPython Lib/pickle.py names).
enum Opcode : uint8_t {
    kMark = '(',
    kStop = '.',
    kBinInt = 'J',
    kBinInt1 = 'K',
    kBinInt2 = 'M',
    kNone = 'N',
    kBinPersId = 'Q',
    kReduce = 'R',
    kBinString = 'T',
    kShortBinString = 'U',
    kBinBytes = 'B',
    kShortBinBytes = 'C',
    kBinUnicode = 'X',
    kAppend = 'a',
    kBuild = 'b',
    kGlobal = 'c',
    kDict = 'd',
    kEmptyDict = '}',
    kAppends = 'e',
    kBinGet = 'h',
    kLongBinGet = 'j',
    kList = 'l',
    kEmptyList = ']',
    kBinPut = 'q',
    kLongBinPut = 'r',
    kSetItem = 's',
    kTuple = 't',
    kEmptyTuple = ')',
    kSetItems = 'u',
    kBinFloat = 'G',
    kProto = 0x80,
    kNewObj = 0x81,
    kTuple1 = 0x85,
    kTuple2 = 0x86,
    kTuple3 = 0x87,
    kNewTrue = 0x88,
    kNewFalse = 0x89,
    kLong1 = 0x8a,
    kLong4 = 0x8b,
    kShortBinUnicode = 0x8c,
    kBinUnicode8 = 0x8d,
    kBinBytes8 = 0x8e,
    kStackGlobal = 0x93,
    kMemoize = 0x94,
    kFrame = 0x95,
    // Only in bookkeeping that UnknownGlobals::Opaque skips (or pure stack manipulation).
    kPop = '0',
    kPopMark = '1',
    kDup = '2',
    kEmptySet = 0x8f,
    kAddItems = 0x90,
    kFrozenSet = 0x91,
    kNewObjEx = 0x92,
    kByteArray8 = 0x96,
};

constexpr int kHighestProtocol = 5;

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
std::string printable(std::string_view text, std::size_t maxSize = 120) {
    std::string out;
    for (std::size_t i = 0; i < text.size() && i < maxSize; ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        out += (byte >= 0x20 && byte < 0x7f) ? text[i] : '?';
    }
    if (text.size() > maxSize) out += "...";
    return out;
}

std::string hexByte(uint8_t byte) {
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "0x%02x", byte);
    return buffer;
}

// An allow-listed callable given arguments it does not take (or an argument of the wrong kind).
// Not an Error on purpose: PickleMachine::run turns it into one, except where
// UnknownGlobals::Opaque turns the result into an opaque value instead.
struct ArgumentProblem {
    std::string message;
};

}  // namespace

std::string refusedGlobalMessage(const std::string& fileName, const std::string& globalName) {
    return fileName + ": refuses to load: the pickle names the global '" + globalName +
           "', which is not part of a tensor state dict";
}

std::string_view pickleKindName(PickleKind kind) {
    switch (kind) {
    case PickleKind::None: return "None";
    case PickleKind::Bool: return "bool";
    case PickleKind::Int: return "int";
    case PickleKind::Float: return "float";
    case PickleKind::String: return "str";
    case PickleKind::Bytes: return "bytes";
    case PickleKind::Tuple: return "tuple";
    case PickleKind::List: return "list";
    case PickleKind::Dict: return "dict";
    case PickleKind::Callable: return "global";
    case PickleKind::Storage: return "storage";
    case PickleKind::Tensor: return "tensor";
    case PickleKind::Opaque: return "opaque object";
    }
    return "?";
}

// The stack machine. Named (not anonymous) because PickleDocument befriends it.
class PickleMachine {
public:
    PickleMachine(const uint8_t* bytes, std::size_t size, const std::string& fileName,
                  const std::string& pickleName, const PickleLimits& limits, UnknownGlobals unknownGlobals)
        : m_bytes(bytes), m_size(size), m_fileName(fileName), m_pickleName(pickleName), m_limits(limits),
          m_isLenient(unknownGlobals == UnknownGlobals::Opaque) {}

    PickleDocument run();

private:
    // The opcode loop; run() turns an ArgumentProblem escaping it into an Error.
    PickleDocument runOpcodes();
    [[noreturn]] void fail(const std::string& problem) const {
        throw Error(m_fileName + ": " + m_pickleName + " byte " + std::to_string(m_opcodeStart) + ": " + problem);
    }
    [[noreturn]] static void badArgument(std::string problem) { throw ArgumentProblem{std::move(problem)}; }
    [[noreturn]] void unsupportedOpcode(uint8_t opcode) const {
        fail("unsupported pickle opcode " + hexByte(opcode) +
             ((opcode >= 0x20 && opcode < 0x7f) ? std::string(" ('") + static_cast<char>(opcode) + "')" : ""));
    }

    // Input.
    std::size_t remaining() const { return m_size - m_pos; }
    const uint8_t* take(std::size_t count) {
        if (count > remaining()) fail("the pickle ends in the middle of an opcode (truncated?)");
        const uint8_t* p = m_bytes + m_pos;
        m_pos += count;
        return p;
    }
    uint64_t readLittleEndian(std::size_t count) {
        const uint8_t* p = take(count);
        uint64_t value = 0;
        for (std::size_t i = count; i-- > 0;) value = (value << 8) | p[i];
        return value;
    }
    std::string readLine();
    std::string readText(uint64_t length);
    int64_t readLong(uint64_t byteCount);
    void pushLong(uint64_t byteCount);

    // Values.
    std::size_t newValue(PickleKind kind);
    std::size_t newInt(PickleKind kind, int64_t value) {
        const std::size_t index = newValue(kind);
        m_doc.m_values[index].integer = value;
        return index;
    }
    std::size_t newText(PickleKind kind, std::string text) {
        const std::size_t index = newValue(kind);
        m_doc.m_values[index].text = std::move(text);
        return index;
    }
    std::size_t newSequence(PickleKind kind, std::vector<std::size_t> items) {
        const std::size_t index = newValue(kind);
        m_doc.m_values[index].items = std::move(items);
        return index;
    }
    PickleValue& at(std::size_t index) { return m_doc.m_values[index]; }
    std::size_t newOpaque(PickleOpaqueOrigin origin, std::string text) {
        const std::size_t index = newText(PickleKind::Opaque, std::move(text));
        at(index).integer = static_cast<int64_t>(origin);
        return index;
    }
    // What calling (REDUCE, NEWOBJ, NEWOBJ_EX) the opaque value `source` gives: another one of
    // the same origin, so that the global stays named.
    std::size_t newOpaqueFrom(std::size_t source) {
        std::string text = at(source).text;
        const auto origin = static_cast<PickleOpaqueOrigin>(at(source).integer);
        return newOpaque(origin, std::move(text));
    }

    // Stack.
    void push(std::size_t index) {
        if (m_stack.size() >= m_limits.maxStackSize) {
            fail("the pickle stack holds more than " + std::to_string(m_limits.maxStackSize) + " values");
        }
        m_stack.push_back(index);
    }
    std::size_t pop() {
        if (m_stack.size() <= stackFloor()) fail("pop from an empty stack");
        const std::size_t index = m_stack.back();
        m_stack.pop_back();
        return index;
    }
    std::size_t top() const {
        if (m_stack.size() <= stackFloor()) fail("the stack is empty");
        return m_stack.back();
    }
    // Values above the innermost MARK belong to it; opcodes other than the mark-consuming ones
    // must not reach below it.
    std::size_t stackFloor() const { return m_marks.empty() ? 0 : m_marks.back(); }
    std::vector<std::size_t> popMark();
    void memoPut(uint64_t key);
    std::size_t memoGet(uint64_t key) const;

    // Allow-listed objects.
    std::size_t resolveGlobal(const std::string& module, const std::string& name);
    std::size_t apply(std::size_t callable, std::size_t args, bool isNewObj);
    std::size_t reduce(std::size_t callable, std::size_t args);
    std::size_t rebuildTensor(const std::vector<std::size_t>& args);
    std::size_t persistentLoad(std::size_t pid);
    std::vector<int64_t> intTuple(std::size_t index, const char* what);
    const PickleValue& expect(std::size_t index, PickleKind kind, const char* what);

    const uint8_t* m_bytes;
    std::size_t m_size;
    std::size_t m_pos = 0;
    std::size_t m_opcodeStart = 0;
    const std::string& m_fileName;
    const std::string& m_pickleName;
    const PickleLimits& m_limits;
    const bool m_isLenient;

    PickleDocument m_doc;
    std::vector<std::size_t> m_stack;
    std::vector<std::size_t> m_marks;
    std::unordered_map<uint64_t, std::size_t> m_memo;
};

std::size_t PickleMachine::newValue(PickleKind kind) {
    if (m_doc.m_values.size() >= m_limits.maxValues) {
        fail("the pickle builds more than " + std::to_string(m_limits.maxValues) + " values");
    }
    m_doc.m_values.emplace_back();
    m_doc.m_values.back().kind = kind;
    return m_doc.m_values.size() - 1;
}

std::string PickleMachine::readLine() {
    if (remaining() == 0) fail("the pickle ends inside a GLOBAL name (truncated?)");
    const std::size_t limit = std::min(remaining(), m_limits.maxGlobalNameSize + 1);
    const void* newline = std::memchr(m_bytes + m_pos, '\n', limit);
    if (newline == nullptr) {
        if (limit == remaining()) fail("the pickle ends inside a GLOBAL name (truncated?)");
        fail("GLOBAL name longer than " + std::to_string(m_limits.maxGlobalNameSize) + " bytes");
    }
    const std::size_t length = static_cast<const uint8_t*>(newline) - (m_bytes + m_pos);
    std::string line(reinterpret_cast<const char*>(m_bytes + m_pos), length);
    m_pos += length + 1;
    return line;
}

std::string PickleMachine::readText(uint64_t length) {
    if (length > remaining()) {
        fail("a string of " + std::to_string(length) + " bytes runs past the end of the pickle (" +
             std::to_string(remaining()) + " bytes left)");
    }
    const uint8_t* p = take(static_cast<std::size_t>(length));
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(length));
}

int64_t PickleMachine::readLong(uint64_t byteCount) {
    if (byteCount > 8) fail("integer of " + std::to_string(byteCount) + " bytes does not fit in 64 bits");
    if (byteCount > remaining()) fail("the pickle ends inside an integer (truncated?)");
    const uint64_t raw = readLittleEndian(static_cast<std::size_t>(byteCount));
    if (byteCount == 0) return 0;
    // Two's complement of byteCount bytes: sign-extend through the unsigned type (no UB).
    const unsigned bits = static_cast<unsigned>(byteCount * 8);
    uint64_t value = raw;
    if (bits < 64 && (raw >> (bits - 1)) & 1u) value |= ~uint64_t{0} << bits;
    int64_t result;
    std::memcpy(&result, &value, sizeof result);
    return result;
}

void PickleMachine::pushLong(uint64_t byteCount) {
    if (byteCount > 8 && m_isLenient) {
        // A Python int that no tensor field can hold (an RNG state, a hash); skip its digits.
        if (byteCount > remaining()) fail("the pickle ends inside an integer (truncated?)");
        take(static_cast<std::size_t>(byteCount));
        push(newOpaque(PickleOpaqueOrigin::Unsupported, "an int wider than 64 bits"));
        return;
    }
    push(newInt(PickleKind::Int, readLong(byteCount)));
}

std::vector<std::size_t> PickleMachine::popMark() {
    if (m_marks.empty()) fail("opcode needs a MARK but there is none");
    const std::size_t mark = m_marks.back();
    m_marks.pop_back();
    std::vector<std::size_t> items(m_stack.begin() + static_cast<std::ptrdiff_t>(mark), m_stack.end());
    m_stack.resize(mark);
    return items;
}

void PickleMachine::memoPut(uint64_t key) {
    const std::size_t value = top();
    auto it = m_memo.find(key);
    if (it != m_memo.end()) {
        it->second = value;
        return;
    }
    if (m_memo.size() >= m_limits.maxMemoSize) {
        fail("the pickle memo holds more than " + std::to_string(m_limits.maxMemoSize) + " entries");
    }
    m_memo.emplace(key, value);
}

std::size_t PickleMachine::memoGet(uint64_t key) const {
    const auto it = m_memo.find(key);
    if (it == m_memo.end()) fail("memo entry " + std::to_string(key) + " was never stored");
    return it->second;
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
        const std::string globalName = printable(module) + "." + printable(name);
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
    badArgument("'" + printable(at(callableIndex).text) + "' cannot be called in a state dict");
}

std::size_t PickleMachine::persistentLoad(std::size_t pid) {
    const PickleValue& tuple = expect(pid, PickleKind::Tuple, "persistent id");
    if (tuple.items.size() != 5) {
        fail("persistent id has " + std::to_string(tuple.items.size()) +
             " fields, expected ('storage', type, key, location, numel)");
    }
    const std::vector<std::size_t> fields = tuple.items;
    if (expect(fields[0], PickleKind::String, "persistent id tag").text != "storage") {
        fail("persistent id tag '" + printable(at(fields[0]).text) + "' is not 'storage'");
    }
    const PickleValue& type = expect(fields[1], PickleKind::Callable, "storage type");
    if (static_cast<PickleCallable>(type.integer) != PickleCallable::StorageType) {
        fail("storage type '" + printable(type.text) + "' is not a torch.*Storage");
    }
    PickleStorage storage;
    storage.dtype = type.dtype;
    storage.key = expect(fields[2], PickleKind::String, "storage key").text;
    storage.location = expect(fields[3], PickleKind::String, "storage location").text;
    storage.numel = expect(fields[4], PickleKind::Int, "storage size").integer;
    if (storage.numel < 0) fail("storage '" + printable(storage.key) + "' has a negative size");
    m_doc.m_storages.push_back(std::move(storage));
    return newInt(PickleKind::Storage, static_cast<int64_t>(m_doc.m_storages.size() - 1));
}

PickleDocument PickleMachine::run() {
    try {
        return runOpcodes();
    } catch (const ArgumentProblem& problem) {
        fail(problem.message);  // m_opcodeStart still names the opcode that applied the arguments
    }
}

PickleDocument PickleMachine::runOpcodes() {
    if (m_size == 0) fail("empty pickle");
    while (true) {
        m_opcodeStart = m_pos;
        if (remaining() == 0) fail("the pickle ends without a STOP opcode (truncated?)");
        const uint8_t opcode = *take(1);
        switch (opcode) {
        case kProto: {
            const uint8_t protocol = *take(1);
            if (protocol > kHighestProtocol) fail("unsupported pickle protocol " + std::to_string(protocol));
            break;
        }
        case kFrame: {
            // Protocol 4 framing only groups opcodes; check the claim and read on.
            const uint64_t frameSize = readLittleEndian(8);
            if (frameSize > remaining()) fail("a frame of " + std::to_string(frameSize) + " bytes runs past the end");
            break;
        }
        case kStop: {
            if (!m_marks.empty()) fail("STOP inside an unclosed MARK");
            m_doc.m_root = pop();
            return std::move(m_doc);
        }
        case kMark:
            if (m_marks.size() >= m_limits.maxMarkDepth) {
                fail("nesting deeper than " + std::to_string(m_limits.maxMarkDepth) + " MARKs");
            }
            m_marks.push_back(m_stack.size());
            break;

        case kGlobal: {
            std::string module = readLine();
            std::string name = readLine();
            push(resolveGlobal(module, name));
            break;
        }
        case kStackGlobal: {
            const std::size_t name = pop();
            const std::size_t module = pop();
            push(resolveGlobal(expect(module, PickleKind::String, "STACK_GLOBAL module").text,
                               expect(name, PickleKind::String, "STACK_GLOBAL name").text));
            break;
        }

        case kBinPut: memoPut(*take(1)); break;
        case kLongBinPut: memoPut(readLittleEndian(4)); break;
        case kMemoize: memoPut(m_memo.size()); break;
        case kBinGet: push(memoGet(*take(1))); break;
        case kLongBinGet: push(memoGet(readLittleEndian(4))); break;

        case kNone: push(newValue(PickleKind::None)); break;
        case kNewTrue: push(newInt(PickleKind::Bool, 1)); break;
        case kNewFalse: push(newInt(PickleKind::Bool, 0)); break;
        case kBinInt: push(newInt(PickleKind::Int, readLong(4))); break;
        case kBinInt1: push(newInt(PickleKind::Int, static_cast<int64_t>(readLittleEndian(1)))); break;
        case kBinInt2: push(newInt(PickleKind::Int, static_cast<int64_t>(readLittleEndian(2)))); break;
        case kLong1: pushLong(readLittleEndian(1)); break;
        case kLong4: {
            const uint64_t byteCount = readLittleEndian(4);
            if (byteCount & 0x80000000u) fail("LONG4 with a negative byte count");
            pushLong(byteCount);
            break;
        }
        case kBinFloat: {
            const uint8_t* p = take(8);
            uint64_t bits = 0;
            for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];  // big-endian
            const std::size_t index = newValue(PickleKind::Float);
            std::memcpy(&at(index).real, &bits, sizeof bits);
            push(index);
            break;
        }

        case kBinUnicode: push(newText(PickleKind::String, readText(readLittleEndian(4)))); break;
        case kShortBinUnicode: push(newText(PickleKind::String, readText(readLittleEndian(1)))); break;
        case kBinUnicode8: push(newText(PickleKind::String, readText(readLittleEndian(8)))); break;
        case kBinString: {
            const uint64_t length = readLittleEndian(4);
            if (length & 0x80000000u) fail("BINSTRING with a negative length");
            push(newText(PickleKind::String, readText(length)));
            break;
        }
        case kShortBinString: push(newText(PickleKind::String, readText(readLittleEndian(1)))); break;
        case kBinBytes: push(newText(PickleKind::Bytes, readText(readLittleEndian(4)))); break;
        case kShortBinBytes: push(newText(PickleKind::Bytes, readText(readLittleEndian(1)))); break;
        case kBinBytes8: push(newText(PickleKind::Bytes, readText(readLittleEndian(8)))); break;
        case kByteArray8:
            if (!m_isLenient) unsupportedOpcode(opcode);
            push(newText(PickleKind::Bytes, readText(readLittleEndian(8))));
            break;

        case kPop: pop(); break;
        case kPopMark: popMark(); break;
        case kDup: push(top()); break;

        case kEmptyTuple: push(newValue(PickleKind::Tuple)); break;
        case kTuple: push(newSequence(PickleKind::Tuple, popMark())); break;
        case kTuple1:
        case kTuple2:
        case kTuple3: {
            const std::size_t count = opcode - kTuple1 + 1;
            if (m_stack.size() < stackFloor() + count) fail("TUPLE" + std::to_string(count) + " on a short stack");
            std::vector<std::size_t> items(m_stack.end() - static_cast<std::ptrdiff_t>(count), m_stack.end());
            m_stack.resize(m_stack.size() - count);
            push(newSequence(PickleKind::Tuple, std::move(items)));
            break;
        }
        case kEmptyList: push(newValue(PickleKind::List)); break;
        case kList: push(newSequence(PickleKind::List, popMark())); break;
        case kAppend: {
            const std::size_t item = pop();
            PickleValue& list = at(top());
            if (list.kind == PickleKind::Opaque) break;  // a list subclass' elements are not needed
            if (list.kind != PickleKind::List) fail("APPEND to a " + std::string(pickleKindName(list.kind)));
            list.items.push_back(item);
            break;
        }
        case kAppends: {
            const std::vector<std::size_t> items = popMark();
            PickleValue& list = at(top());
            if (list.kind == PickleKind::Opaque) break;
            if (list.kind != PickleKind::List) fail("APPENDS to a " + std::string(pickleKindName(list.kind)));
            list.items.insert(list.items.end(), items.begin(), items.end());
            break;
        }
        case kEmptySet:
            if (!m_isLenient) unsupportedOpcode(opcode);
            push(newOpaque(PickleOpaqueOrigin::Unsupported, "a set"));
            break;
        case kAddItems: {
            if (!m_isLenient) unsupportedOpcode(opcode);
            popMark();
            const PickleValue& set = at(top());
            if (set.kind != PickleKind::Opaque) fail("ADDITEMS to a " + std::string(pickleKindName(set.kind)));
            break;
        }
        case kFrozenSet:
            if (!m_isLenient) unsupportedOpcode(opcode);
            popMark();
            push(newOpaque(PickleOpaqueOrigin::Unsupported, "a frozenset"));
            break;
        case kEmptyDict: push(newValue(PickleKind::Dict)); break;
        case kDict: {
            std::vector<std::size_t> items = popMark();
            if (items.size() % 2 != 0) fail("DICT with an odd number of keys and values");
            push(newSequence(PickleKind::Dict, std::move(items)));
            break;
        }
        case kSetItem: {
            const std::size_t value = pop();
            const std::size_t key = pop();
            PickleValue& dict = at(top());
            // An opaque object keeps the pairs (a dict subclass such as AttributeDict).
            if (dict.kind != PickleKind::Dict && dict.kind != PickleKind::Opaque) {
                fail("SETITEM on a " + std::string(pickleKindName(dict.kind)));
            }
            dict.items.push_back(key);
            dict.items.push_back(value);
            break;
        }
        case kSetItems: {
            const std::vector<std::size_t> items = popMark();
            if (items.size() % 2 != 0) fail("SETITEMS with an odd number of keys and values");
            PickleValue& dict = at(top());
            if (dict.kind != PickleKind::Dict && dict.kind != PickleKind::Opaque) {
                fail("SETITEMS on a " + std::string(pickleKindName(dict.kind)));
            }
            dict.items.insert(dict.items.end(), items.begin(), items.end());
            break;
        }

        case kReduce: {
            const std::size_t args = pop();
            const std::size_t callable = pop();
            push(apply(callable, args, false));
            break;
        }
        case kNewObj: {
            const std::size_t args = pop();
            const std::size_t cls = pop();
            push(apply(cls, args, true));
            break;
        }
        case kNewObjEx: {
            // cls.__new__(cls, *args, **kwargs) (protocol 4): only for objects already opaque.
            if (!m_isLenient) unsupportedOpcode(opcode);
            pop();  // kwargs
            pop();  // args
            const std::size_t cls = pop();
            if (at(cls).kind == PickleKind::Opaque) {
                push(newOpaqueFrom(cls));
            } else {
                push(newOpaque(PickleOpaqueOrigin::BadArguments,
                               "NEWOBJ_EX of a " + std::string(pickleKindName(at(cls).kind))));
            }
            break;
        }
        case kBuild: {
            // The state of an OrderedDict (its _metadata attribute) or of a tensor is not needed; an
            // opaque object keeps a reference to it (argparse.Namespace's attributes).
            const std::size_t state = pop();
            PickleValue& target = at(top());
            if (target.kind == PickleKind::Opaque) {
                target.state = state;
            } else if (target.kind != PickleKind::Dict && target.kind != PickleKind::Tensor) {
                fail("BUILD on a " + std::string(pickleKindName(target.kind)));
            }
            break;
        }
        case kBinPersId: push(persistentLoad(pop())); break;

        default:
            unsupportedOpcode(opcode);
        }
    }
}

PickleDocument readPickle(const uint8_t* bytes, std::size_t size, const std::string& fileName,
                          const std::string& pickleName, const PickleLimits& limits, UnknownGlobals unknownGlobals) {
    PickleMachine machine(bytes, size, fileName, pickleName, limits, unknownGlobals);
    return machine.run();
}

}  // namespace tokenscope
