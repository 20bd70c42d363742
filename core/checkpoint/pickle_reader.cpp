// The restricted unpickler's opcode machine: input, values, stack, memo and the opcode loop.
// The allow-listed globals and the torch objects they rebuild are in pickle_torch.cpp.
#include "checkpoint/pickle_reader.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

#include "checkpoint/pickle_reader_internal.h"
#include "common/error.h"

namespace tokenscope {

namespace {

using pickle::ArgumentProblem;

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

std::string hexByte(uint8_t byte) {
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "0x%02x", byte);
    return buffer;
}

}  // namespace

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

void PickleMachine::unsupportedOpcode(uint8_t opcode) const {
    fail("unsupported pickle opcode " + hexByte(opcode) +
         ((opcode >= 0x20 && opcode < 0x7f) ? std::string(" ('") + static_cast<char>(opcode) + "')" : ""));
}

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
